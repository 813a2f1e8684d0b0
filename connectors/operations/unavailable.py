"""The one error the service layer raises when a system behind the sync does not answer.

The adapters each have their own ways of saying so (pymongo's ConnectionFailure, a Kafka
delivery that was not acknowledged, a Salesforce login or describe that failed); callers of
connectors.operations — the console, the REST API, the commands — catch ServiceUnavailable
alone, and its message names the system and what to check.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
from confluent_kafka import KafkaException
from pymongo.errors import ConnectionFailure

from connectors.kafka.producer import DeliveryFailed
from connectors.mappings.describe_cache import DescribeUnavailable
from connectors.mongo.client import MongoUnavailable
from connectors.salesforce.auth import SalesforceLoginError


class ServiceUnavailable(RuntimeError):
    """MongoDB, Kafka or Salesforce did not answer; str() names which and what to check."""


#: Errors whose own message already names the service and what to check.
_EXPLAINED = (MongoUnavailable, DescribeUnavailable, SalesforceLoginError)


@contextmanager
def translated() -> Iterator[None]:
    """Raise ServiceUnavailable for an adapter's "no answer" raised inside the block (also usable
    as a decorator); every other error propagates as it is."""
    try:
        yield
    except _EXPLAINED as exc:
        raise ServiceUnavailable(str(exc)) from exc
    except ConnectionFailure as exc:
        raise ServiceUnavailable(
            f"mongodb: no answer ({type(exc).__name__}); check MongoDB and its connection") from exc
    except (DeliveryFailed, KafkaException) as exc:
        raise ServiceUnavailable(f"kafka: the messages were not acknowledged ({exc}); "
                                 "check Kafka and the mapping's Kafka cluster") from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise ServiceUnavailable(f"salesforce: no answer ({type(exc).__name__}); check the org's login URL "
                                 "and the network") from exc
