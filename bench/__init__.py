"""`python -m bench`: scopegate side by side with nginx + auth_request, on loopback. See bench/README.md."""
