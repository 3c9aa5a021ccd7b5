from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path, reverse_lazy
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from bkmonitor.web.api_root import ApiRootView
from bkmonitor.web.landing import LandingView

urlpatterns = [
    path("", LandingView.as_view(), name="landing"),
    path("admin/", admin.site.urls),
    path("", include("alarm_backends.core.observability.urls")),  # /metrics, /-/healthy, /-/ready
    # Both need a login like the API (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]): the schema answers an
    # anonymous client 401; the docs page is HTML for a browser, so it sends one to the admin's login first.
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", login_required(SpectacularSwaggerView.as_view(url_name="schema"),
                                     login_url=reverse_lazy("admin:login")), name="api-docs"),
    path("api/v1/", ApiRootView.as_view(), name="api-root"),
    path("api/v1/metadata/", include("metadata.api.urls")),
    path("api/v1/", include("bkmonitor.api.urls")),
]

handler404 = "config.api.errors.not_found"
