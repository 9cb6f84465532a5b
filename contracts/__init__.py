"""The contracts: OpenAPI 3.1 documents (``openapi/``) and JSON Schemas (``schemas/``),
shipped inside the package; ``verify`` checks exchanges against them."""

from contracts.files import contracts_dir, openapi_path, schema_path

__all__ = ["contracts_dir", "openapi_path", "schema_path"]
