"""Every page carries the security headers, and the session cookie is Secure when the service is on HTTPS."""

from app import create_app
from tests.support import log_in


def test_pages_forbid_framing_sniffing_inline_scripts_and_leaky_referrers(client, world):
    log_in(client, "alice@example.test")
    for path in ("/login", "/console/", "/portal/"):
        headers = client.get(path).headers
        policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", path
        assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert "unsafe-eval" not in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "microphone=(self)" in headers["Permissions-Policy"]


def test_https_gets_hsts_and_a_secure_session_cookie(app, world):
    public = create_app({**app.config, "PUBLIC_BASE_URL": "https://answering.example"})
    browser = public.test_client()
    page = browser.get("/login", headers={"X-Forwarded-Proto": "https"})  # TLS ended at the proxy
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in page.headers["Set-Cookie"] and "HttpOnly" in page.headers["Set-Cookie"]


def test_the_local_demo_over_http_keeps_a_cookie_it_can_send(client, world):
    page = client.get("/login")
    assert "Strict-Transport-Security" not in page.headers
    assert "Secure" not in page.headers["Set-Cookie"]
    assert log_in(client, "alice@example.test").status_code == 302
