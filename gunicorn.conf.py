"""Gunicorn settings for production: `.venv/bin/gunicorn -c gunicorn.conf.py wsgi:app` (see README).

Every setting can be overridden on the command line or by the environment (WEB_CONCURRENCY, BIND). The app
must not run several workers on in-memory sign-in counters (each worker would count on its own): gunicorn
refuses to start then, saying to set RATELIMIT_STORAGE_URI (e.g. redis://127.0.0.1:6379/0).
"""
import os
import sys

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = 120  # a big import's preview can take a while; its commit runs in the background (IMPORT_QUEUE)
accesslog = "-"
# Only the proxy on this machine may say which address a request came from (the app trusts X-Forwarded-For
# only with TRUSTED_PROXIES set; see SECURITY.md).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    """Before any worker starts: tell the app how many workers there are, and refuse unsafe throttle storage."""
    os.environ["TRACKER_WORKERS"] = str(server.cfg.workers)
    from tracker.security import check_throttle_storage

    try:
        check_throttle_storage(server.cfg.workers, os.environ.get("RATELIMIT_STORAGE_URI", "memory://"))
    except RuntimeError as exc:
        server.log.error("Not starting: %s", exc)
        print(f"Not starting: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
