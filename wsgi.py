"""Entry point for `flask` and gunicorn (`gunicorn wsgi:app`)."""
from tracker import create_app

app = create_app()
