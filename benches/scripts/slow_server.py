#!/usr/bin/env python3
"""A deliberately slow HTTP/1.1 keep-alive server for the loadgen agreement
benchmark: one asyncio thread (pin it to one CPU) that answers every
request with a fixed 200 after burning about WORK_US of CPU, so the server,
not the client, is the bottleneck. Usage: slow_server.py PORT [WORK_US]"""
import asyncio
import sys
import time

PORT = int(sys.argv[1])
WORK = float(sys.argv[2] if len(sys.argv) > 2 else 50) / 1e6
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"


async def serve(reader, writer):
    buf = b""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            buf += data
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                until = time.perf_counter() + WORK
                while time.perf_counter() < until:
                    pass
                writer.write(RESPONSE)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", PORT, backlog=1024)
    async with server:
        await server.serve_forever()


asyncio.run(main())
