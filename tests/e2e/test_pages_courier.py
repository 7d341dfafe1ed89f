"""The courier's phone and the manifest's QR in a real Chromium (issue 17): my packages, a camera
scan of a real transfer slip (a fake webcam playing the slip's rendered PDF), 揽收 of a package the
window handed over, 送达 with a photo and a finger signature, 异常 with a reason, the offline
queue kept in IndexedDB across a reload and sent once, the console as an installable PWA, and the
department signing a whole batch by the manifest's QR — each screen with axe-core at 0 violations."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, Route, expect

from tests.e2e.test_pages_console import custody_kinds, new_page, open_console, sign_in
from tests.integration.api.test_journeys import post
from tests.integration.api.test_pages import registered_case
from tests.integration.api.test_sessions import PASSWORD, give_password
from tests.support.browser import DESKTOP, PHONE, base_url, chromium, screenshot
from tests.support.camera import pdf_page_image, top_right_frame, write_y4m
from tests.support.images import png

SERVER_TIME = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # the harness's clock


async def sealed(site) -> dict:
    case, _ = await registered_case(site)
    return await post(site, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)


async def hand_over(site, *packages: dict) -> dict:
    body = {"office_id": "win-441581", "courier": "courier-07", "package_ids": [p["id"] for p in packages]}
    return await post(site, "/api/v1/manifests", "clerk-lf", body, 201)


async def no_violations(page: Page) -> None:
    results = await Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


async def test_a_courier_scans_a_handed_over_slip_with_the_camera_confirms_and_delivers_with_evidence(site, tmp_path):
    package = await sealed(site)
    await hand_over(site, package)
    slip = await site.client.get(
        f"/api/v1/packages/{package['id']}/documents/transfer-slip", headers=site.auth("clerk-lf")
    )
    assert slip.status == 200
    video = write_y4m(top_right_frame(pdf_page_image(await slip.read())), tmp_path / "slip.y4m")
    camera = (
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    async with chromium(camera) as browser:
        await give_password(site, "courier-07")
        page, errors = await new_page(browser, {**PHONE, "permissions": ["camera"]})
        await page.clock.set_fixed_time(SERVER_TIME)
        await page.goto(f"{base_url(site)}/console")
        await sign_in(page, "courier-07", PASSWORD)
        await expect(page.locator("#nav a.active")).to_have_text("快递上报")

        # my packages: handed over by the window, waiting for the courier's own 揽收
        in_hand = page.locator("#list-in_hand li", has_text=package["code"])
        await expect(in_hand).to_contain_text("窗口已交接，请确认揽收")
        await expect(in_hand.get_by_role("button", name=f"揽收 {package['code']}")).to_be_visible()
        await no_violations(page)
        await screenshot(page, "console-phone-courier-mine")

        wasm: list[str] = []
        page.on("response", lambda r: wasm.append(r.status) if r.url.endswith("/zxing_reader.wasm") else None)
        await page.get_by_role("button", name="用摄像头扫码").click()
        await expect(page.locator("#courier-code")).to_have_value(package["scan_payload"], timeout=30_000)
        if not await page.evaluate("'BarcodeDetector' in window"):  # Chromium on Linux has none
            assert wasm == [200]  # the vendored reader, from the console itself (no CDN)
        await page.get_by_role("button", name="揽收", exact=True).click()
        await expect(page.locator("#pending-count")).to_have_text("0")
        await expect(page.locator("#sent li").first).to_contain_text("揽收")
        events = await custody_kinds(site, package["id"])
        assert (events[-1]["kind"], events[-1]["note"], events[-1]["actor"]) == (
            "picked_up",
            "快递员确认揽收",
            "courier-07",
        )
        # what is next is offered, not 揽收 again
        await expect(in_hand.get_by_role("button", name=f"揽收 {package['code']}")).to_have_count(0)

        await in_hand.get_by_role("button", name=f"送达 {package['code']}").click()
        await page.get_by_label("现场照片（选填）").set_input_files(
            {"name": "door.png", "mimeType": "image/png", "buffer": png()}
        )
        pad = await page.locator("canvas.signature").bounding_box()
        assert pad is not None
        await page.mouse.move(pad["x"] + 20, pad["y"] + 30)
        await page.mouse.down()
        for step in range(1, 12):
            await page.mouse.move(pad["x"] + 20 + step * 20, pad["y"] + 30 + (step % 3) * 15)
        await page.mouse.up()
        await no_violations(page)
        await screenshot(page, "console-phone-courier-deliver")
        await page.get_by_role("button", name="确认送达").click()
        await expect(page.locator("#list-delivered_today li", has_text=package["code"])).to_be_visible()
        delivered = (await custody_kinds(site, package["id"]))[-1]
        assert delivered["kind"] == "delivered" and len(delivered["evidence"]) == 2
        assert errors == []
        await page.context.close()


async def test_the_courier_reports_an_exception_with_a_reason(site, browser):
    package = await sealed(site)
    await hand_over(site, package)
    page, errors = await open_console(browser, site, "courier-07", PHONE)
    await page.clock.set_fixed_time(SERVER_TIME)
    row = page.locator("#list-in_hand li", has_text=package["code"])
    await row.get_by_role("button", name=f"异常 {package['code']}").click()
    await page.get_by_label("异常类型").select_option("damaged")
    await page.get_by_label("原因说明").fill("外包装被雨淋湿")
    await no_violations(page)
    await page.get_by_role("button", name="登记异常").click()
    await expect(page.locator("#sent li").first).to_contain_text("异常")
    await expect(page.locator("#pending-count")).to_have_text("0")
    last = (await custody_kinds(site, package["id"]))[-1]
    assert (last["kind"], last["note"]) == ("exception", "外包装被雨淋湿")
    assert errors == []
    await page.context.close()


async def test_the_offline_queue_survives_a_reload_and_is_sent_once_with_the_same_key(site, browser):
    package = await sealed(site)
    page, errors = await open_console(browser, site, "courier-07", PHONE)
    await page.clock.set_fixed_time(SERVER_TIME)
    await expect(page.locator("#list-to_pick_up li", has_text=package["code"])).to_be_visible()
    await page.context.set_offline(True)
    await expect(page.locator(".network")).to_contain_text("离线")
    await page.get_by_label("材料包编号").fill(package["code"])
    await page.get_by_role("button", name="揽收", exact=True).click()
    await expect(page.locator("#pending-count")).to_have_text("1")

    # the tab is reloaded while the server cannot be reached: the report is still there
    keys: list[str] = []

    async def unreachable(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key", ""))
        await route.abort("connectionrefused")

    await page.route(re.compile(r".*/api/v1/(scan|packages/.*/picked-up)$"), unreachable)
    await page.context.set_offline(False)
    await page.reload()
    await expect(page.locator("#who")).to_contain_text("退出")
    await expect(page.locator("#pending-count")).to_have_text("1")
    await expect(page.locator("#pending li").first).to_contain_text(package["code"])
    stored = await page.evaluate(
        """() => new Promise((resolve) => {
            const open = indexedDB.open("handoff-console");
            open.onsuccess = () => {
              const get = open.result.transaction("courier").objectStore("courier").get("handoff.courier.courier-07");
              get.onsuccess = () => resolve(get.result.pending.map((r) => r.step));
            };
        })"""
    )
    assert stored == ["picked_up"]
    assert await page.evaluate("localStorage.getItem('handoff.courier.courier-07')") is None
    assert [e["kind"] for e in await custody_kinds(site, package["id"])] == ["created", "sealed"]

    await page.unroute(re.compile(r".*/api/v1/(scan|packages/.*/picked-up)$"))
    seen: list[str] = []
    page.on(
        "request",
        lambda r: seen.append(r.headers.get("idempotency-key", "")) if r.url.endswith("/picked-up") else None,
    )
    await page.get_by_role("button", name="立即发送").click()
    await expect(page.locator("#pending-count")).to_have_text("0")
    await expect(page.locator("#list-in_hand li", has_text=package["code"])).to_be_visible()
    picked = [e for e in await custody_kinds(site, package["id"]) if e["kind"] == "picked_up"]
    assert len(picked) == 1 and datetime.fromisoformat(picked[0]["client_time"]) == SERVER_TIME
    assert len(set(seen)) == 1
    assert errors == []
    await page.context.close()


async def test_the_console_is_an_installable_pwa_that_opens_the_courier_screen_offline(site, browser):
    package = await sealed(site)
    page, errors = await open_console(browser, site, "courier-07", PHONE)
    manifest = await (await site.client.get("/console/manifest.webmanifest")).json()
    assert manifest["start_url"] == "/console#/courier" and manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} == {"192x192", "512x512"}
    response = await site.client.get("/console/sw.js")
    assert response.headers["Service-Worker-Allowed"] == "/console"
    assert "'wasm-unsafe-eval'" in response.headers["Content-Security-Policy"]
    await page.wait_for_function(
        "navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready.then(() => true)"
    )
    await page.evaluate("navigator.serviceWorker.ready")
    await page.reload()  # now controlled: every file the page loads is kept
    await expect(page.locator("#nav a.active")).to_have_text("快递上报")
    assert await page.evaluate("navigator.serviceWorker.controller !== null")
    await page.wait_for_timeout(500)  # the worker stores what the page told it (no assertion on time)
    await page.context.set_offline(True)
    await page.reload()
    await expect(page.locator("h1")).to_have_text("快递上报")
    await expect(page.locator(".network")).to_contain_text("离线")
    await expect(page.locator("#lists-note")).to_contain_text("未能连接服务器")
    await expect(page.locator("#list-to_pick_up li", has_text=package["code"])).to_be_visible()  # as last loaded
    assert errors == []
    await page.context.close()


async def test_a_department_signs_a_batch_by_the_manifest_qr_opened_from_the_phone_page(site, browser):
    one, two = await sealed(site), await sealed(site)
    manifest = await hand_over(site, one, two)
    await give_password(site, "dept-zj")
    page, errors = await new_page(browser, DESKTOP)
    landing = f"{base_url(site)}/" + manifest["scan_payload"].split("/", 3)[3]
    await page.goto(landing)  # not signed in: a page that says what the code is
    await expect(page.get_by_role("heading", name="交接单二维码")).to_be_visible()
    await no_violations(page)
    await page.goto(f"{base_url(site)}/console")
    await sign_in(page, "dept-zj", PASSWORD)
    await expect(page.locator("#who")).to_contain_text("退出")
    await page.goto(landing)  # signed in: straight to the scan screen with the batch
    await expect(page.get_by_role("heading", name="交接单整批签收")).to_be_visible()
    await expect(page.locator(".batch-package")).to_have_count(2)
    batch = page.locator(".batch-package", has_text=two["code"])
    await batch.locator("summary").click()
    await batch.get_by_label(f"{two['code']} 第 2 项核对结果").select_option("damaged")
    await batch.get_by_label(f"{two['code']} 第 2 项说明").fill("封皮破损")
    await no_violations(page)
    await screenshot(page, "console-desktop-batch-sign")
    await page.get_by_role("button", name=re.compile("整批签收")).click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("已整批签收 2 个材料包，登记差异 1 项")
    for p, discrepancies in ((one, 0), (two, 1)):
        last = (await custody_kinds(site, p["id"]))[-1]
        assert last["kind"] == "signed" and len(last["discrepancies"]) == discrepancies
    assert errors == []
    await page.context.close()


async def test_a_department_clerk_scans_the_printed_manifest_with_the_camera_and_signs_the_batch(site, tmp_path):
    one, two = await sealed(site), await sealed(site)
    manifest = await hand_over(site, one, two)
    printed = await site.client.get(
        f"/api/v1/manifests/{manifest['id']}/documents/manifest", headers=site.auth("clerk-lf")
    )
    assert printed.status == 200
    video = write_y4m(top_right_frame(pdf_page_image(await printed.read())), tmp_path / "manifest.y4m")
    camera = (
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    async with chromium(camera) as browser:
        await give_password(site, "dept-zj")
        page, errors = await new_page(browser, {**DESKTOP, "permissions": ["camera"]})
        await page.goto(f"{base_url(site)}/console")
        await sign_in(page, "dept-zj", PASSWORD)
        await expect(page.locator("#nav a.active")).to_have_text("扫码签收")
        await page.get_by_role("button", name="用摄像头扫码").click()
        await expect(page.get_by_role("heading", name="交接单整批签收")).to_be_visible(timeout=30_000)
        await expect(page.locator(".batch-package")).to_have_count(2)
        await no_violations(page)
        await page.get_by_role("button", name=re.compile("整批签收（2 个材料包）")).click()
        await expect(page.locator("#messages .alert.ok")).to_contain_text("已整批签收 2 个材料包，无差异")
        for p in (one, two):
            assert (await custody_kinds(site, p["id"]))[-1]["kind"] == "signed"
        assert errors == []
        await page.context.close()
