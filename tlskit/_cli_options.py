"""TLS options shared by ``tlskit get``, ``tlskit doctor`` and ``tlskit policy``, and ``tlskit policy``.

`tls_options` is an argparse parent parser, so every verb spells an option
the same way, and `policy_fields` turns the parsed options into `TLSPolicy`
fields. Option names follow curl where curl has the same option
(``--cacert``, ``--capath``, ``--ciphers``, ``--cert``, ``--key``,
``--pass``). `connect_to_rule` reads ``tlskit get --connect-to``.

A key password never comes from the command line, where other users can
read it in the process list. ``--pass`` takes an environment variable
(``env:NAME``) or ``prompt``, for a prompt on the terminal, and the password
is never printed or logged.
"""

from __future__ import annotations

import argparse
import getpass
import os
import warnings
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

from ._cli_streams import print_stdout
from ._cli_values import MAX_PORT, is_port, shown
from ._errors import PolicyError
from ._policy import TLSPolicy
from ._versions import CipherProfile

VERSION_CHOICES = ("1.2", "1.3")
# curl's --pinnedpubkey writes "sha256//" before the base64 of a 32-byte digest (44 characters).
_CURL_PIN_PREFIX = "sha256//"
_PIN_BASE64_CHARS = 44
PASS_FORMS = "'env:NAME' (an environment variable) or 'prompt' (ask on the terminal)"


class ConnectTo(NamedTuple):
    """One ``--connect-to HOST1:PORT1:HOST2:PORT2``: requests for the first go to the second.

    An empty host or port on the left matches any, and an empty one on the
    right keeps the requested one, as in curl.
    """

    host: str
    port: Optional[int]
    target_host: str
    target_port: Optional[int]


def tls_options(*, verb: str) -> argparse.ArgumentParser:
    """Return a parent parser with the TLS policy options.

    Args:
        verb: the subcommand, which decides the options offered: ``doctor``
            gets no pins and no client certificate.
    """
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("TLS options")
    group.add_argument(
        "--cacert", metavar="FILE", help="PEM file of CA certificates to trust, besides the system store"
    )
    group.add_argument("--capath", metavar="DIR", help="directory of hashed CA certificates (openssl rehash)")
    group.add_argument(
        "--no-system-ca", action="store_true", help="trust only --cacert/--capath, not the system store"
    )
    group.add_argument(
        "--min-tls", choices=VERSION_CHOICES, default="1.2", help="lowest TLS version to offer (default 1.2)"
    )
    group.add_argument(
        "--max-tls", choices=VERSION_CHOICES, help="highest TLS version to offer (default 1.3)"
    )
    group.add_argument(
        "--ciphers",
        metavar="PROFILE|STRING",
        help="cipher profile (" + ", ".join(profile.value for profile in CipherProfile) + ") or an OpenSSL "
        "cipher string for TLS 1.2 (default intermediate)",
    )
    if verb == "doctor":
        return options
    group.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="sha256/BASE64",
        help="SPKI pin a certificate of the verified chain must match; may be repeated, or ';'-separated "
        "as curl's --pinnedpubkey (which writes sha256//BASE64)",
    )
    group.add_argument(
        "--cert", metavar="FILE", help="client certificate (PEM), optionally followed by its key"
    )
    group.add_argument("--key", metavar="FILE", help="private key of --cert, when not in the same file")
    group.add_argument(
        "--pass",
        dest="key_password",
        metavar="SOURCE",
        help=f"password of an encrypted --key: {PASS_FORMS}; never a password itself",
    )
    return options


def policy_fields(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Dict[str, Any]:
    """Return the `TLSPolicy` fields that the parsed TLS options set.

    `TLSPolicy` rejects invalid values with a `PolicyError` that names the
    field. Only mistakes in how an option is written go to ``parser.error``.
    """
    fields: Dict[str, Any] = {"minimum_version": args.min_tls}
    if args.max_tls:
        fields["maximum_version"] = args.max_tls
    if args.ciphers:
        fields["ciphers"] = args.ciphers
    cafile = getattr(args, "cacert", None) or getattr(args, "cafile", None)
    if cafile:
        fields["cafile"] = cafile
    if args.capath:
        fields["capath"] = args.capath
    if args.no_system_ca:
        fields["system_ca"] = False
    if getattr(args, "pin", None):
        fields["pins"] = parse_pins(args.pin)
    if getattr(args, "cert", None):
        fields["client_cert"] = _certificate_path(parser, args.cert)
    if getattr(args, "key", None):
        fields["client_key"] = args.key
    if getattr(args, "key_password", None):
        fields["client_key_password"] = password_reader(parser, args.key_password)
    return fields


def _certificate_path(parser: argparse.ArgumentParser, value: str) -> str:
    """Return the ``--cert`` path, rejecting curl's ``FILE:PASSWORD`` form without showing it."""
    if ":" in value and not os.path.exists(value):
        # The part after the colon may be a password, so the value is not echoed.
        parser.error("invalid --cert value: it takes a file only; pass the key's password with --pass")
    return value


def parse_pins(values: Sequence[str]) -> List[str]:
    """Split ``;``-separated pins and accept curl's ``sha256//`` spelling of ``sha256/``.

    A base64 digest may itself start with ``/``, so only a value one
    character longer than a tlskit pin is taken as curl's spelling.
    """
    pins = []
    for value in values:
        for pin in value.split(";"):
            pin = pin.strip()
            if pin.startswith(_CURL_PIN_PREFIX) and len(pin) == len(_CURL_PIN_PREFIX) + _PIN_BASE64_CHARS:
                pin = "sha256/" + pin[len(_CURL_PIN_PREFIX) :]
            if pin:
                pins.append(pin)
    return pins


def password_reader(parser: argparse.ArgumentParser, source: str) -> Callable[[], str]:
    """Return a callable that reads the key password from ``source`` when OpenSSL needs it.

    The password is read only when the key turns out to be encrypted, and
    is never stored in the policy's repr or in a message.
    """
    kind, _, name = source.partition(":")
    if source == "prompt":
        return prompt_password
    if kind == "env" and name:
        if name not in os.environ:
            parser.error(f"--pass env:{name}: the environment variable {name} is not set")
        return lambda: os.environ[name]
    # The value is not echoed: it may be the password itself, typed by mistake.
    parser.error(f"invalid --pass value: expected {PASS_FORMS}, never the password itself")
    raise AssertionError("parser.error returns only by raising")


def prompt_password() -> str:
    """Ask for the client key's password on the terminal, without echo.

    Without a terminal, `getpass.getpass` warns and then reads stdin with
    echo. That warning is raised as an error here, before anything is read.

    Raises:
        PolicyError: the process has no terminal to ask on.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            return getpass.getpass("tlskit: password for the client key: ")
        except getpass.GetPassWarning:
            raise PolicyError(
                "--pass prompt needs a terminal to ask for the client key's password, and this process has "
                "none. Pass --pass env:NAME to read it from the environment variable NAME instead.",
                field="client_key_password",
            ) from None


def connect_to_rule(value: str) -> ConnectTo:
    """Read one ``--connect-to HOST1:PORT1:HOST2:PORT2``; IPv6 hosts go in brackets.

    An argparse type function: a malformed value raises `argparse.ArgumentTypeError`.
    """
    parts = _split_outside_brackets(value)
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(
            f"invalid value {shown(value)}: expected HOST1:PORT1:HOST2:PORT2, such as "
            "example.com:443:127.0.0.1:8443 ([::1] for IPv6)"
        )
    host, port, target_host, target_port = parts
    return ConnectTo(
        host.strip("[]").lower(),
        _port(value, port),
        target_host.strip("[]"),
        _port(value, target_port),
    )


def _split_outside_brackets(value: str) -> List[str]:
    parts = [""]
    depth = 0
    for char in value:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == ":" and depth == 0:
            parts.append("")
        else:
            parts[-1] += char
    return parts


def _port(value: str, text: str) -> Optional[int]:
    if not text:
        return None
    if not is_port(text):
        raise argparse.ArgumentTypeError(
            f"invalid value {shown(value)}: port {shown(text)} is not a number from 1 to {MAX_PORT}"
        )
    return int(text)


# tlskit policy


def add_tls_verb(
    commands: Any, name: str, *, help: str, description: str, run: Callable[..., int]
) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` with the TLS options, ``--debug`` and ``run`` as its action.

    Returns:
        The subcommand's parser, for the options of its own.
    """
    parser: argparse.ArgumentParser = commands.add_parser(
        name, parents=[tls_options(verb=name)], help=help, description=description
    )
    add_debug_option(parser)
    parser.set_defaults(run=run)
    return parser


def add_debug_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--debug``, which every verb takes."""
    parser.add_argument("--debug", action="store_true", help="show tracebacks and DEBUG logs")


def add_policy_parser(commands: Any) -> None:
    """Add ``tlskit policy``, which prints the effective policy for the TLS options given."""
    add_tls_verb(
        commands,
        "policy",
        help="print the TLS policy that the options put in effect",
        description="Print the TLS policy that the given options put in effect, as TLSPolicy.describe() "
        "shows it: versions, cipher suites, security level, verification, trust sources, pins, client "
        "certificate. Nothing is contacted and no file is loaded; secrets are never shown.",
        run=run_policy,
    )


def run_policy(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Print ``TLSPolicy(...).describe()`` for the options given."""
    print_stdout(TLSPolicy(**policy_fields(parser, args)).describe())
    return 0
