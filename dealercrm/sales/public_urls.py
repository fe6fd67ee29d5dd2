"""Public sales pages, reached by unguessable links and no login: a quote the customer takes
away, and an order's tracking page. Each shows that one object and nothing else."""

from .views import orders, quotes

app_name = "sales_public"
urlpatterns = [*quotes.public_urlpatterns, *orders.public_urlpatterns]
