"""One real OCPP 1.6 station (the `ocpp` package's ChargePoint over websockets): it
boots, sends one MeterValues and checks both answers. Usage: station.py URL STATION_ID"""
import asyncio
import sys
from datetime import UTC, datetime

import websockets
from ocpp.v16 import ChargePoint, call


async def main(url: str, station_id: str) -> None:
    async with websockets.connect(f"{url}{station_id}", subprotocols=["ocpp1.6"]) as socket:
        station = ChargePoint(station_id, socket)
        listening = asyncio.create_task(station.start())
        boot = await station.call(call.BootNotification(
            charge_point_vendor="chargebus-ci", charge_point_model="smoke"))
        assert boot.status == "Accepted", boot
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        answer = await station.call(call.MeterValues(connector_id=1, meter_value=[{
            "timestamp": now, "sampledValue": [{
                "value": "1234", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]))
        assert answer is not None
        listening.cancel()
    print(f"{station_id}: booted ({boot.status}) and sent one MeterValues at {now}")


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2]), 60))
