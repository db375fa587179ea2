"""An S3 endpoint for tests: moto's standalone server on a free loopback port.

Use with ``pytest_plugins = ("tests.support.s3",)`` in a test module; the fixtures are
``moto_s3`` (one server per run) and ``s3_bucket`` (a fresh, empty bucket per test).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from openpacs.storage.s3 import S3BlobStore

REGION = "us-east-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"  # moto accepts any credentials


@dataclass
class MotoS3:
    endpoint_url: str
    _client: Any = field(default=None, repr=False)

    @property
    def env(self) -> dict[str, str]:
        """What a subprocess (server, CLI) needs to reach this endpoint."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "OPENPACS_S3_ENDPOINT_URL": self.endpoint_url,
            "OPENPACS_S3_REGION": REGION,
        }

    def client(self) -> Any:
        """One shared client (boto3 clients are thread-safe, and slow to create)."""
        if self._client is None:
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=REGION,
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY,
                config=Config(s3={"addressing_style": "path"}),
            )
        return self._client

    def create_bucket(self) -> str:
        name = f"openpacs-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def store(self, bucket: str, prefix: str, staging_dir: Path, **options: Any) -> S3BlobStore:
        return S3BlobStore(bucket, prefix, staging_dir=staging_dir, client=self.client(), **options)

    def object_keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        return [
            str(item["Key"])
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", ())
        ]


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield MotoS3(f"http://{host}:{port}")
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(moto_s3: MotoS3) -> str:
    return moto_s3.create_bucket()
