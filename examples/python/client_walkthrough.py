"""A Python client of `identity` (grpcio), walking one account through its life:
signup -> the emailed link -> verify -> login -> refresh -> validate -> logout; then,
with a staff account (--staff-email, --staff-password), the same walk read back from
EventService/WatchEvents, as a service that follows account changes would.

The stubs are generated at run time from the repository's proto/ with grpcio-tools,
so they never drift from the contract. The link is read from the .eml files that a
server without IDENTITY_SMTP_URL writes into its mail directory.

    examples/python/run.sh --addr 127.0.0.1:50051 --mail-dir ./mail
"""

import argparse
import email
import email.policy
import importlib
import pathlib
import re
import sys
import tempfile
import time
import uuid

import grpc
from grpc_tools import protoc

PROTO_ROOT = pathlib.Path(__file__).resolve().parents[2] / "proto"
PASSWORD = "correct horse battery staple"
TOKEN_LINK = re.compile(r"/verify-email\?token=([A-Za-z0-9_-]+)")


def generate_stubs(out_dir):
    """Compiles proto/ (ours and the vendored google/api) into out_dir and imports it."""
    wkt = pathlib.Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    status = protoc.main(
        ["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{wkt}",
         f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *protos]
    )
    if status != 0:
        sys.exit(f"protoc failed ({status}) on {PROTO_ROOT}")
    sys.path.insert(0, str(out_dir))
    modules = ["account_pb2", "account_pb2_grpc", "token_pb2", "token_pb2_grpc", "events_pb2", "events_pb2_grpc"]
    return {name: importlib.import_module(f"identity.v1.{name}") for name in modules}


def verification_token(mail_dir, address, timeout):
    """The token of the verification link in the .eml file to `address`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in pathlib.Path(mail_dir).glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address not in str(message.get("To", "")):
                continue
            body = message.get_body(preferencelist=("plain",))
            match = TOKEN_LINK.search(body.get_content()) if body else None
            if match:
                return match.group(1)
        time.sleep(0.2)
    sys.exit(
        f"no verification email to {address} in {mail_dir} after {timeout}s; is the server "
        "running without IDENTITY_SMTP_URL and with this IDENTITY_MAIL_DIR?"
    )


def walk(stubs, channel, mail_dir, address, email_timeout):
    account_pb2, token_pb2 = stubs["account_pb2"], stubs["token_pb2"]
    accounts = stubs["account_pb2_grpc"].AccountServiceStub(channel)
    tokens = stubs["token_pb2_grpc"].TokenServiceStub(channel)

    user = accounts.Signup(account_pb2.SignupRequest(email=address, password=PASSWORD)).user
    print(f"signed up {user.email} (id {user.id}, verified: {user.is_verified})")

    token = verification_token(mail_dir, address, email_timeout)
    print(f"read the verification link from {mail_dir}")

    user = accounts.VerifyEmail(account_pb2.VerifyEmailRequest(token=token)).user
    assert user.is_verified, "VerifyEmail left the account unverified"
    print(f"verified {user.email}")

    login = tokens.Login(
        token_pb2.LoginRequest(email=address, password=PASSWORD, device_name="client_walkthrough.py")
    )
    first = login.tokens
    print(f"logged in: session {first.session_id}")

    refreshed = tokens.RefreshToken(token_pb2.RefreshTokenRequest(refresh_token=first.refresh_token)).tokens
    assert refreshed.session_id == first.session_id, "refresh changed the session"
    assert refreshed.refresh_token != first.refresh_token, "refresh did not rotate"
    print("refreshed: the refresh token rotated, same session")

    validated = tokens.ValidateAccessToken(
        token_pb2.ValidateAccessTokenRequest(access_token=refreshed.access_token)
    )
    assert validated.email == address, f"the token speaks for {validated.email}"
    print(f"validated: the access token speaks for {validated.email} ({validated.user_id})")

    tokens.Logout(token_pb2.LogoutRequest(refresh_token=refreshed.refresh_token))
    try:
        tokens.ValidateAccessToken(token_pb2.ValidateAccessTokenRequest(access_token=refreshed.access_token))
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.UNAUTHENTICATED:
            raise
        print(f"logged out: the access token is refused ({error.details()})")
    else:
        sys.exit("the access token still validates after logout")
    return user.id


WALK_EVENTS = ["user.created", "user.verified", "session.created", "session.revoked"]


def watch_the_walk(stubs, channel, staff_email, staff_password, user_id):
    """WatchEvents from the first event kept (after "0"), keeping this walk's account's;
    a service following changes would resume from the last id it handled instead."""
    token_pb2, events_pb2 = stubs["token_pb2"], stubs["events_pb2"]
    tokens = stubs["token_pb2_grpc"].TokenServiceStub(channel)
    events = stubs["events_pb2_grpc"].EventServiceStub(channel)
    staff = tokens.Login(token_pb2.LoginRequest(email=staff_email, password=staff_password)).tokens
    stream = events.WatchEvents(
        events_pb2.WatchEventsRequest(after="0"),
        metadata=[("authorization", f"Bearer {staff.access_token}")],
        timeout=30,
    )
    seen = []
    for event in stream:
        if event.user_id == user_id:
            print(f"event {event.id}: {event.kind}")
            seen.append(event.kind)
        if len(seen) == len(WALK_EVENTS):
            stream.cancel()
            break
    assert seen == WALK_EVENTS, f"the walk's events came as {seen}"
    print("watched: every step of the walk came back as an event, in order")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:50051", help="the server's gRPC address")
    parser.add_argument("--mail-dir", default="./mail", help="the server's IDENTITY_MAIL_DIR")
    parser.add_argument("--email", help="the email to sign up with; a fresh one per run by default")
    parser.add_argument("--email-timeout-secs", type=float, default=30.0)
    parser.add_argument("--staff-email", help="a staff account to watch the walk's events with")
    parser.add_argument("--staff-password")
    args = parser.parse_args()
    address = args.email or f"walkthrough-{uuid.uuid4()}@example.com"
    with tempfile.TemporaryDirectory(prefix="identity-stubs-") as out_dir:
        stubs = generate_stubs(out_dir)
        with grpc.insecure_channel(args.addr) as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            user_id = walk(stubs, channel, args.mail_dir, address, args.email_timeout_secs)
            if args.staff_email:
                watch_the_walk(stubs, channel, args.staff_email, args.staff_password, user_id)
            print("walkthrough complete")


if __name__ == "__main__":
    main()
