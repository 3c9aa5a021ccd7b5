"""The Kafka storage layer's public names (as in the reference system).

The implementation lives in alarm_backends.core.kafka, one concern per module.
"""
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.commit import Batch, CommitMode, CommitPolicy
from alarm_backends.core.kafka.consumer import SEEK_CUR, SEEK_END, SEEK_SET, KafkaConsumer
from alarm_backends.core.kafka.dlq import DeadLetterPolicy, DeadLetterQueue
from alarm_backends.core.kafka.errors import (
    BrokerUnavailable,
    CommitFailed,
    ConsumerError,
    DeadLetterLimitExceeded,
    DeliveryFailed,
    FlushTimeout,
    GroupHasActiveMembers,
    InvalidMessage,
    InvalidTopicName,
    KafkaStorageError,
    MessageRejected,
    ProduceError,
    RetryableError,
    TopicAlreadyExists,
    TopicError,
    TopicNotFound,
    UnsupportedByBroker,
)
from alarm_backends.core.kafka.offsets import OffsetManager
from alarm_backends.core.kafka.partitioner import murmur2, partition_for_key
from alarm_backends.core.kafka.processing import StreamProcessor
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.kafka.topics import TopicManager, validate_topic_name

__all__ = [
    "SEEK_CUR", "SEEK_END", "SEEK_SET", "Batch", "BrokerUnavailable", "CommitFailed", "CommitMode",
    "CommitPolicy", "ConsumerError", "DeadLetterLimitExceeded", "DeadLetterPolicy", "DeadLetterQueue",
    "DeliveryFailed", "FlushTimeout", "GroupHasActiveMembers", "InvalidMessage", "InvalidTopicName",
    "KafkaClusterConfig", "KafkaConsumer", "KafkaProducer", "KafkaStorageError", "MessageRejected",
    "OffsetManager", "ProduceError", "RetryableError", "StreamProcessor", "TopicAlreadyExists", "TopicError",
    "TopicManager", "TopicNotFound", "UnsupportedByBroker", "murmur2", "partition_for_key",
    "validate_topic_name",
]
