"""`python -m app.mailcatcher [--host 127.0.0.1] [--port 8025] [--dir var/mailcatcher]`"""
from __future__ import annotations

import argparse
import logging
import signal
import threading

from .server import start


def main() -> None:
    parser = argparse.ArgumentParser(description="Sportello's local mail catcher (development only).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", default="var/mailcatcher")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    controller = start(args.dir, args.host, args.port)
    logging.getLogger("app.mailcatcher").info("Mail catcher on %s:%d, messages in %s", args.host, args.port, args.dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
