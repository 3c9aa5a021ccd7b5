from rest_framework.routers import SimpleRouter

from bkmonitor.api import alerts, views

app_name = "bkmonitor-api"

router = SimpleRouter()
router.register("strategies", views.StrategyViewSet)
router.register("alerts", alerts.AlertViewSet)
router.register("events", alerts.EventViewSet)

urlpatterns = router.urls
