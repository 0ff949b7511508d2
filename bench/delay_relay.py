"""A TCP relay that adds a fixed one-way delay in each direction.

This kernel's tc has no netem, so bench/link.sh puts this between dffmpeg
and a node behind a shaped veth link: every byte read on one side is
written to the other DELAY_MS later (or later still, when the shaped link
behind it is busy), which is a link's propagation delay, a round trip of
twice DELAY_MS. Order is kept; nothing is dropped.

Usage: python3 bench/delay_relay.py DELAY_MS TARGET_HOST TARGET_PORT
Prints "listening on 127.0.0.1:PORT" once it accepts connections.
"""

import asyncio
import sys


async def pump(reader, writer, delay):
    """Copies reader to writer, each read held back `delay` seconds."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def feed():
        while True:
            data = await reader.read(1 << 16)
            await queue.put((loop.time() + delay, data))
            if not data:
                return

    async def drain():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    try:
        await asyncio.gather(feed(), drain())
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main():
    delay = float(sys.argv[1]) / 1000.0
    host, port = sys.argv[2], int(sys.argv[3])

    async def relay(client_reader, client_writer):
        try:
            node_reader, node_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pump(client_reader, node_writer, delay),
            pump(node_reader, client_writer, delay),
        )

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
