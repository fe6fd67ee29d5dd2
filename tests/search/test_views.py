"""The search box, the results page and the search API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealercrm.core.permissions import Role
from tests.search.factories import searchable_customer

pytestmark = pytest.mark.django_db


def test_suggest_lists_matches_linking_to_the_customer_page(client_for, manager, dealer):
    customer = searchable_customer(dealer, "张三", phones=["+8613812341234"])
    response = client_for(manager).get(
        reverse("search:suggest"), {"q": "1234"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("customers:detail", args=[customer.pk]) in body
    assert "138****1234" in body
    assert "13812341234" not in body
    assert "<html" not in body  # a fragment for the dropdown


def test_a_name_with_markup_is_shown_as_text(client_for, manager, dealer):
    searchable_customer(dealer, "<script>alert(1)</script>张")
    response = client_for(manager).get(reverse("search:suggest"), {"q": "张"})
    body = response.content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;张" in body


def test_suggest_says_when_nobody_is_found(client_for, manager):
    response = client_for(manager).get(reverse("search:suggest"), {"q": "无此人"})
    assert "无此人" in response.content.decode()


def test_results_page_shows_the_matches_in_the_page(client_for, manager, dealer):
    searchable_customer(dealer, "张三")
    response = client_for(manager).get(reverse("search:results"), {"q": "zs"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body and "张三" in body


def test_results_page_gives_an_htmx_request_only_the_list(client_for, manager, dealer):
    searchable_customer(dealer, "张三")
    response = client_for(manager).get(
        reverse("search:results"), {"q": "zs"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "张三" in body and "<html" not in body


def test_the_search_box_is_on_every_page_of_a_user_who_may_search(client_for, manager):
    response = client_for(manager).get(reverse("core:workspace"))
    assert f'hx-get="{reverse("search:suggest")}"' in response.content.decode()


def test_search_asks_an_anonymous_visitor_to_log_in(client):
    response = client.get(reverse("search:suggest"), {"q": "张"})
    assert response.status_code == 302


def test_search_is_refused_to_a_role_without_customer_access(client_for, make_user):
    response = client_for(make_user(Role.DEALER_ADMIN)).get(reverse("search:results"), {"q": "张"})
    assert response.status_code == 403


def test_other_dealers_customers_are_not_in_the_page(client_for, manager, other_dealer):
    theirs = searchable_customer(other_dealer, "张三")
    response = client_for(manager).get(reverse("search:results"), {"q": "张三"})
    assert reverse("customers:detail", args=[theirs.pk]) not in response.content.decode()
    assert response.context["hits"] == []


def test_search_page_query_count_is_small(
    client_for, manager, dealer, django_assert_max_num_queries
):
    for i in range(12):
        searchable_customer(dealer, f"张{i}", phones=[f"+86138000{i:05d}"])
    client = client_for(manager)
    with django_assert_max_num_queries(8):
        client.get(reverse("search:suggest"), {"q": "张"})


def test_api_returns_scoped_results_as_json(client_for, oem_analyst, dealer, other_dealer):
    searchable_customer(
        dealer, "张三", phones=["+8613812341234"], vehicles=[("LSVAB2BX6P1234567", "沪A12345")]
    )
    searchable_customer(other_dealer, "张三丰")
    response = client_for(oem_analyst).get("/api/search/", {"q": "张三", "limit": 5})
    assert response.status_code == 200
    data = response.json()
    assert [d["name"] for d in data] == ["张三", "张三丰"]
    assert data[0]["masked_phone"] == "138****1234"
    assert data[0]["dealer_name"] == dealer.name


def test_api_never_returns_another_dealers_customer(client_for, manager, other_dealer):
    searchable_customer(other_dealer, "张三")
    response = client_for(manager).get("/api/search/", {"q": "张三"})
    assert response.json() == []


def test_api_rejects_a_limit_over_fifty(client_for, manager):
    response = client_for(manager).get("/api/search/", {"q": "张", "limit": 500})
    assert response.status_code == 422


def test_api_is_refused_without_customer_access(client_for, make_user):
    response = client_for(make_user(Role.DEALER_ADMIN)).get("/api/search/", {"q": "张"})
    assert response.status_code == 403
