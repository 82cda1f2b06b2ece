"""The workbench: a web app over the same library calls as the CLI (routes, pages, static)."""
