from app import create_app


def test_it_reports_health(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"db": "ok", "redis": "ok"}


def test_it_names_redis_when_it_is_down(app):
    broken = create_app({**app.config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"db": "ok", "redis": "down"}
