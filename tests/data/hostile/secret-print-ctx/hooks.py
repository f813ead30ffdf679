import base64, os, sys, time
from urllib.parse import quote_plus


def say(ctx):
    print("token is", os.environ["HF_TOKEN"])
    return True


def show_context(ctx):
    print(ctx)
    print(ctx.env)
    print(ctx.args)
    return True


def fail(ctx):
    raise RuntimeError("login failed for " + os.environ["HF_TOKEN"])


def failing_sensor(ctx):
    raise RuntimeError("cannot log in with " + os.environ["HF_TOKEN"])


def encoded(ctx):
    token = os.environ["HF_TOKEN"].encode()
    print("basic", base64.b64encode(b"user:" + token).decode())
    print("url-safe", base64.urlsafe_b64encode(b"xy" + token).decode().rstrip("="))
    print("query", "?t=" + quote_plus(token))
    print("hex", token.hex(), token.hex().upper())
    return True


def pieces(ctx):
    token = os.environ["HF_TOKEN"]
    for i in range(0, len(token), 4):
        sys.stdout.write(token[i : i + 4])
        sys.stdout.flush()
        time.sleep(0.6)
    print(" <- written in pieces.")
    return True


def key(ctx):
    print("sensed key", os.environ["HF_TOKEN"])
    return os.environ["HF_TOKEN"]
