"""tightknit_async."""
