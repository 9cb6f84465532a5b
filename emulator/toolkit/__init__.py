"""The contract-testing toolkit: ``mockcloud record`` (a scrubbing recording proxy),
``mockcloud drift`` (cassettes replayed against the emulator), ``mockcloud world
from-cassette`` (a world from recorded reads) and ``mockcloud fuzz`` (schemathesis on a
served contract). Each command is a module here with ``main(argv) -> int``; all of them
work for every vendor through ``emulator.core.vendor.Vendor``."""
