import pytest

pytestmark = pytest.mark.django_db


def test_workspace_asks_an_anonymous_visitor_to_log_in(client):
    response = client.get("/")
    assert response.status_code == 302


def test_workspace_renders_for_a_consultant(client_for, consultant):
    response = client_for(consultant).get("/")
    assert response.status_code == 200


def test_every_response_says_how_long_the_server_took(client):
    response = client.get("/login/")
    name, duration = response["Server-Timing"].split(";dur=")
    assert name == "app" and float(duration) >= 0
