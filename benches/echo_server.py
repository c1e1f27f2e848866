"""A TCP echo server on 127.0.0.1 for the namespace benchmarks: echo_server.py PORT."""
import asyncio
import sys


async def handle(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def main(port):
    server = await asyncio.start_server(handle, '127.0.0.1', port, backlog=4096)
    async with server:
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1])))
