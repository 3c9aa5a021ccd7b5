from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from bkmonitor.web.api_root import ApiRootView
from bkmonitor.web.landing import LandingView

urlpatterns = [
    path("", LandingView.as_view(), name="landing"),
    path("admin/", admin.site.urls),
    path("", include("alarm_backends.core.observability.urls")),  # /metrics, /-/healthy, /-/ready
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", ApiRootView.as_view(), name="api-root"),
    path("api/v1/metadata/", include("metadata.api.urls")),
    path("api/v1/", include("bkmonitor.api.urls")),
]
