"""A bare 1.6 station socket that accepts every call the CSMS sends and keeps them."""
import asyncio

import orjson
import websockets


class AcceptingStation:
    def __init__(self, url: str):
        self.url = url
        self.calls: list[list] = []
        self.socket = None
        self._answering: asyncio.Task | None = None

    async def __aenter__(self):
        self.socket = await websockets.connect(self.url, subprotocols=["ocpp1.6"])
        self._answering = asyncio.create_task(self._answer())
        return self

    async def __aexit__(self, *exc_info):
        self._answering.cancel()
        await self.socket.close()

    async def _answer(self):
        async for message in self.socket:
            call = orjson.loads(message)
            if call[0] == 2:
                self.calls.append(call)
                await self.socket.send(orjson.dumps([3, call[1], {"status": "Accepted"}]).decode())
