from metadata.models.cluster import ClusterInfo
from metadata.models.datasource import DataSource, KafkaTopicInfo
from metadata.models.result_table import ResultTable
from metadata.models.storage import KafkaStorage

__all__ = ["ClusterInfo", "DataSource", "KafkaStorage", "KafkaTopicInfo", "ResultTable"]
