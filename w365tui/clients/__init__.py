"""The shared API clients (async httpx), free of Textual."""
