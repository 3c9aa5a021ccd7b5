from django.urls import path
from rest_framework.routers import DefaultRouter

from metadata.api import views

app_name = "metadata-api"

router = DefaultRouter()
router.APIRootView = views.MetadataRootView
router.register("clusters", views.ClusterInfoViewSet)
router.register("data-sources", views.DataSourceViewSet)
router.register("kafka-topic-infos", views.KafkaTopicInfoViewSet)
router.register("result-tables", views.ResultTableViewSet)
router.register("kafka-storages", views.KafkaStorageViewSet)

urlpatterns = [
    path("get_result_table_storage/", views.ResultTableStorageView.as_view(), name="result-table-storage"),
    *router.urls,
]
