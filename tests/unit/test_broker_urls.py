"""HANDOFF_BROKER_URL names one RabbitMQ node or every node of a cluster (comma-separated), and on
a cluster every queue of a group is a quorum queue replicated on all the nodes listed."""

from __future__ import annotations

import pytest

from adapters.broker.rabbit import RabbitBus, broker_urls, queue_arguments
from adapters.settings import Settings
from handoff.errors import InvalidInput


def test_several_comma_separated_amqp_urls_are_a_cluster_and_one_url_is_one_node():
    three = Settings.from_env(
        {"HANDOFF_BROKER_URL": "amqp://u:p@mq1:5672/, amqp://u:p@mq2:5672/,amqps://u:p@mq3:5671/"}
    )
    assert three.broker_backend == "amqp"
    assert three.broker_urls == ["amqp://u:p@mq1:5672/", "amqp://u:p@mq2:5672/", "amqps://u:p@mq3:5671/"]
    assert RabbitBus(three.broker_urls).cluster_size == 3
    one = Settings.from_env({"HANDOFF_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/"})
    assert one.broker_urls == ["amqp://guest:guest@127.0.0.1:5672/"]
    assert RabbitBus(one.broker_url).cluster_size is None
    assert Settings.from_env({}).broker_backend == "memory"


@pytest.mark.parametrize("url", ["memory://,amqp://mq1/", "amqp://mq1/,redis://mq2/", ",", "kafka://k1"])
def test_a_broker_setting_that_is_not_memory_alone_or_amqp_urls_only_is_refused_in_chinese(url):
    with pytest.raises(InvalidInput, match="消息队列地址"):
        _ = Settings.from_env({"HANDOFF_BROKER_URL": url}).broker_backend


def test_the_bus_splits_a_url_list_itself_and_refuses_an_empty_one():
    assert broker_urls("amqp://a/,amqp://b/") == ["amqp://a/", "amqp://b/"]
    assert broker_urls(["amqp://a/"]) == ["amqp://a/"]
    with pytest.raises(ValueError):
        broker_urls(" , ")


def test_on_a_cluster_every_queue_is_quorum_on_every_node_and_on_one_node_only_the_group_s_queues_are():
    assert queue_arguments(quorum=True, cluster_size=3) == {"x-queue-type": "quorum", "x-quorum-initial-group-size": 3}
    assert queue_arguments(quorum=True, cluster_size=None) == {"x-queue-type": "quorum"}
    assert queue_arguments(quorum=False, cluster_size=None) == {}
