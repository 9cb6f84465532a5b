"""WSGI entry point for servers: ``emulator.wsgi:app`` (settings from MOCKCLOUD_*)."""

from .app import create_app

app = create_app()
