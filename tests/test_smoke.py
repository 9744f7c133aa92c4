import pytest
from mcp import Client

from .fakefal import FakeFal

pytestmark = pytest.mark.anyio


async def test_generate_video_returns_the_finished_video(client: Client, fake: FakeFal) -> None:
    result = await client.call_tool("generate_video", {"prompt": "a horse galloping on a beach", "duration": 3})
    print(result)
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["status"] == "completed"
    assert len(fake.submits) == 1
