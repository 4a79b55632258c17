"""Real clients against a running `retune serve` (see scripts/serve-clients.sh): each answer
must equal, within 1e-6, the embeddings `retune embed` wrote for the same texts."""

import json
import os
import sys

from huggingface_hub import InferenceClient
from openai import AuthenticationError, OpenAI

TOL = 1e-6


def check(name, got, want):
    assert len(got) == len(want), f"{name}: {len(got)} vectors for {len(want)} texts"
    worst = max(abs(a - b) for g, w in zip(got, want) for a, b in zip(g, w))
    assert worst <= TOL, f"{name}: differs by {worst}"
    print(f"{name}: {len(got)} vectors, max |diff| {worst:.2e}")


def main():
    url, expected = sys.argv[1], sys.argv[2]
    key = os.environ.get("RETUNE_API_KEY") or "none"
    rows = [json.loads(line) for line in open(expected, encoding="utf-8")]
    texts = [r["text"] for r in rows]
    want = [r["embedding"] for r in rows]

    client = OpenAI(base_url=f"{url}/v1", api_key=key)
    answer = client.embeddings.create(model="retune", input=texts)  # base64 on the wire
    check("openai embeddings.create", [d.embedding for d in answer.data], want)
    assert answer.usage.prompt_tokens > 0
    one = client.embeddings.create(model="retune", input=texts[0], encoding_format="float")
    check("openai embeddings.create float", [one.data[0].embedding], want[:1])
    if key != "none":
        try:
            OpenAI(base_url=f"{url}/v1", api_key="wrong-key").embeddings.create(model="retune", input="a")
            raise AssertionError("a wrong key was accepted")
        except AuthenticationError:
            print("openai with a wrong key: 401")

    hub = InferenceClient(base_url=url, api_key=key)
    got = [hub.feature_extraction(t).ravel().tolist() for t in texts]
    check("huggingface_hub feature_extraction", got, want)
    print("ok")


if __name__ == "__main__":
    main()
