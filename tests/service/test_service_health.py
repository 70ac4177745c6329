import httpx
from service_harness import Service


def test_healthz_answers_without_a_key(service: Service) -> None:
    response = httpx.get(service.url + "/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_unknown_path_is_problem_json(service: Service) -> None:
    response = httpx.get(service.url + "/v1/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://faceaudit.dev/problems/not-found"
    assert body["status"] == 404 and body["title"] == "Not Found"


def test_openapi_docs_are_served(service: Service) -> None:
    assert httpx.get(service.url + "/docs").status_code == 200
    spec = httpx.get(service.url + "/openapi.json").json()
    assert "/healthz" in spec["paths"]
