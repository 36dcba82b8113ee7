"""tuspy (PyPI) uploads a file to a node's resumable endpoint, retrying through cuts.

Usage: python3 tus.py ENDPOINT TOKEN FILE; prints one JSON line {"url": ..., "mediaId": ...}.
"""
import json
import sys

import requests
from tusclient import client

endpoint, token, path = sys.argv[1:4]
tus = client.TusClient(endpoint, headers={"Authorization": f"Bearer {token}"})
uploader = tus.uploader(
    path,
    chunk_size=8 * 1024 * 1024,
    metadata={"filename": "phone-video.bin"},
    retries=30,
    retry_delay=1,
)
uploader.upload()
head = requests.head(
    uploader.url,
    headers={"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"},
    timeout=30,
)
print(json.dumps({"url": uploader.url, "mediaId": head.headers.get("Media-Id")}))
