"""The seed's step 2 walked in the console, in a real browser, against the local stack: add a certificate and
read its ID, set the app up, register a device with that ID, send a message and see its counts; a wrong
password shown beside the password field; a pruned token explained; delete after a confirmation."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import urllib.error

import pytest
from playwright.sync_api import Page, expect

from local.apple_pki import PushCertificateKind, new_p8_key
from tests.browser.conftest import (
    BUNDLE_ID,
    SDK_APP_ID,
    USER_SECRET,
    ConsoleWorld,
    open_app,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

PASSWORD = "console-p12-password"


def p12_file(
    world: ConsoleWorld, password: str = PASSWORD, kind: PushCertificateKind = PushCertificateKind.DEVELOPMENT
) -> dict[str, object]:
    issued = world.pki.issue_push_certificate(BUNDLE_ID, kind)
    return {"name": "chat-dev.p12", "mimeType": "application/x-pkcs12", "buffer": issued.p12(password)}


def add_certificate(
    page: Page,
    world: ConsoleWorld,
    *,
    name: str,
    password: str,
    kind: PushCertificateKind = PushCertificateKind.DEVELOPMENT,
) -> None:
    page.get_by_role("button", name="Add certificate").click()
    dialog = page.get_by_role("dialog", name="Add certificate")
    dialog.get_by_label("Environment").select_option("development")
    dialog.get_by_label("Certificate name").fill(name)
    dialog.get_by_label("File").set_input_files(p12_file(world, kind=kind))  # type: ignore[arg-type]
    dialog.get_by_label("Certificate password").fill(password)
    dialog.get_by_role("button", name="Confirm").click()


def job(msg_key: str, receiver: str) -> dict[str, object]:
    return {
        "SdkAppId": SDK_APP_ID,
        "MsgKey": msg_key,
        "From_Account": "denny",
        "SenderNickname": "Denny",
        "To_Account": [receiver],
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello from the console test"}}],
    }


def test_step_2_in_the_console_gives_the_id_the_app_registers_with_and_its_message_is_counted(
    page: Page, world: ConsoleWorld
) -> None:
    # Given an operator signed in to the console, opening the app (step 2.2)
    sign_in(page, world)
    open_app(page)
    screenshot(page, "01-app-without-certificates")

    # When they add the development .p12 with its password (2.3, 2.4), the seed's warnings beside the fields
    page.get_by_role("button", name="Add certificate").click()
    dialog = page.get_by_role("dialog", name="Add certificate")
    for warning in (
        "Use an English name: letters, digits, spaces, - _ . (no brackets or other special characters).",
        "A password is required: a certificate uploaded without one never gets a push.",
        "Certificates of apps published on the App Store (and TestFlight) must be set to production, "
        "or no push arrives.",
        "The certificate must be your own, real and valid (applied for with your Apple developer account).",
    ):
        expect(dialog.get_by_text(warning, exact=True)).to_be_visible()
    dialog.get_by_label("Environment").select_option("development")
    dialog.get_by_label("Certificate name").fill("Chat dev")
    dialog.get_by_label("File").set_input_files(p12_file(world))  # type: ignore[arg-type]
    dialog.get_by_label("Certificate password").fill(PASSWORD)
    screenshot(page, "02-add-certificate-dialog")
    dialog.get_by_role("button", name="Confirm").click()

    # Then the table shows the certificate with its ID, large, and the bundle, environment and expiry (2.5)
    expect(dialog).to_be_hidden()
    row = page.locator("tr[data-business-id]").first
    business_id = int(row.get_by_test_id("business-id").inner_text())
    expect(page.get_by_role("status")).to_have_text(
        f"Certificate {business_id} added. Compile certificate ID {business_id} into the app (the businessID "
        "of setAPNS)."
    )
    cells = [text.strip() for text in row.locator("td").all_inner_texts()]
    assert cells[:5] == ["Chat dev", "p12", BUNDLE_ID, "development (sandbox)", "notifications"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", cells[5])
    assert row.get_by_role("button", name=f"Copy certificate ID {business_id}").is_visible()
    font_size = row.get_by_test_id("business-id").evaluate("node => getComputedStyle(node).fontSize")
    assert float(font_size.removesuffix("px")) >= 24
    screenshot(page, "03-certificate-added")

    # And when they set the app's user-token key in the console (write-only: the field is emptied)
    page.get_by_label("Algorithm").select_option("HS256")
    page.get_by_label("HS256 secret (at least 32 bytes)").fill(USER_SECRET)
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_have_text("Settings saved.")
    expect(page.locator("#user-auth-current")).to_contain_text("Set: HS256")
    assert USER_SECRET not in page.content()

    # And the app calls setAPNS with the ID read from the page, and the IM backend sends a message
    token = os.urandom(32).hex()
    world.sandbox.control.register_devices(
        [{"token": token, "topic": BUNDLE_ID, "environment": "development"}]
    )
    registration = world.set_apns("vinson", business_id, token)
    assert (registration["businessId"], registration["environment"]) == (business_id, "development")
    world.send_job(job("console-step-2", "vinson"))
    world.wait_for(lambda: world.sandbox.control.notifications(token=token), "the notification at APNs")

    # Then "why no push?" for the message shows its counts: one delivered
    page.get_by_label("MsgKey").fill("console-step-2")
    counts = page.get_by_test_id("outcome-counts")

    def delivered_counted() -> bool:
        page.get_by_role("button", name="Look up").nth(1).click()
        counts.wait_for()
        return counts.locator("tr[data-outcome=delivered] td").inner_text() == "1"

    world.wait_for(delivered_counted, "the console to count the delivery")
    rows = counts.locator("tbody tr")
    assert [(row.get_attribute("data-outcome"), row.locator("td").inner_text()) for row in rows.all()] == [
        ("delivered", "1"),
        ("failed", "0"),
        ("retrying", "0"),
        ("sending", "0"),
        ("interrupted", "0"),
    ]
    screenshot(page, "04-message-counts")

    # And the user's lookup shows the device, shortened, with the certificate and its environment
    page.get_by_label("User ID").fill("vinson")
    page.get_by_role("button", name="Look up").first.click()
    device_row = page.locator("#why-result tbody tr").first
    expect(device_row).to_contain_text(f"{token[:8]}…(32B)")
    expect(device_row).to_contain_text(f"{business_id} · Chat dev · {BUNDLE_ID} · development (sandbox)")
    assert token not in page.content()
    screenshot(page, "05-user-devices")

    # And the whole page reads in Chinese after one click
    page.get_by_role("button", name="切换到中文").click()
    expect(page.get_by_role("heading", name="iOS 平台推送设置")).to_be_visible()
    expect(page.get_by_role("button", name="添加证书")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    screenshot(page, "06-chinese")
    page.get_by_role("button", name="Switch to English").click()
    expect(page.get_by_role("heading", name="iOS push settings")).to_be_visible()


def test_a_wrong_p12_password_is_shown_beside_the_password_field(page: Page, world: ConsoleWorld) -> None:
    # Given the add dialog, where client-side checks catch a missing name and password before sending
    sign_in(page, world)
    open_app(page)
    page.get_by_role("button", name="Add certificate").click()
    dialog = page.get_by_role("dialog", name="Add certificate")
    dialog.get_by_label("Certificate name").fill("Chat (dev)")
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.locator("#name-error")).to_have_text(
        "Enter a name of English letters, digits, spaces, - _ . (at most 64)."
    )
    expect(dialog.locator("#file-error")).to_have_text("Choose the certificate file.")
    expect(dialog.locator("#password-error")).to_have_text("Enter the certificate's password.")
    expect(dialog.get_by_label("Certificate name")).to_be_focused()
    expect(dialog.get_by_label("Certificate name")).to_have_attribute("aria-invalid", "true")

    # When the operator sends a real .p12 with the wrong password
    dialog.get_by_label("Certificate name").fill("Chat dev")
    dialog.get_by_label("File").set_input_files(p12_file(world, "the-right-password"))  # type: ignore[arg-type]
    dialog.get_by_label("Certificate password").fill("a-wrong-password")
    dialog.get_by_role("button", name="Confirm").click()

    # Then the API's error stands beside the password field, in words, never as JSON, and focus is there
    password_error = dialog.locator("#password-error")
    expect(password_error).to_be_visible()
    expect(password_error).to_have_text(re.compile(r"^[^{}]*password[^{}]*$", re.IGNORECASE))
    expect(dialog.get_by_label("Certificate password")).to_be_focused()
    expect(dialog.get_by_label("Certificate password")).to_have_attribute("aria-invalid", "true")
    expect(dialog.get_by_label("Certificate password")).to_have_value("")
    for other in ("#name-error", "#file-error", "#environment-error", "#form-error"):
        expect(dialog.locator(other)).to_be_hidden()
    screenshot(page, "07-wrong-password")

    # And the same error reads in Chinese
    page.keyboard.press("Escape")
    page.get_by_role("button", name="切换到中文").click()
    page.get_by_role("button", name="添加证书").click()
    dialog = page.get_by_role("dialog", name="添加证书")
    dialog.get_by_label("证书名称").fill("Chat dev")
    dialog.get_by_label("文件").set_input_files(p12_file(world, "the-right-password"))  # type: ignore[arg-type]
    dialog.get_by_label("证书密码").fill("a-wrong-password")
    dialog.get_by_role("button", name="确认").click()
    expect(dialog.locator("#password-error")).to_contain_text("密码无法打开该 .p12：请检查证书密码。")  # noqa: RUF001
    screenshot(page, "08-wrong-password-zh")


def test_a_user_whose_token_apns_refused_is_told_when_and_why_it_was_removed(
    page: Page, world: ConsoleWorld
) -> None:
    # Given a development certificate and dad's App Store build registering its token with it (the seed's
    # FAQ: the app's environment and the certificate's differ), and a message APNs refuses for it
    sign_in(page, world)
    open_app(page)
    add_certificate(page, world, name="Chat dev two", password=PASSWORD)
    expect(page.get_by_role("status")).to_contain_text("added")
    # The notice can show before the table is drawn again: wait for its row before reading the IDs
    expect(page.get_by_role("row").filter(has_text="Chat dev two")).to_be_visible()
    business_id = max(int(text) for text in page.get_by_test_id("business-id").all_inner_texts())
    world.admin(
        "PUT", f"/v1/apps/{SDK_APP_ID}/settings", {"userAuth": {"algorithm": "HS256", "secret": USER_SECRET}}
    )
    token = os.urandom(32).hex()
    world.sandbox.control.register_devices(
        [{"token": token, "topic": BUNDLE_ID, "environment": "production"}]
    )
    world.set_apns("dad", business_id, token)
    world.send_job(job("console-pruned", "dad"))

    def removed() -> bool:
        answer = world.admin("GET", f"/v1/apps/{SDK_APP_ID}/users/dad/deliveries")
        return bool(answer["removedDevices"])

    world.wait_for(removed, "the token to be removed")

    # When the operator asks why dad gets no push
    page.get_by_label("User ID").fill("dad")
    page.get_by_role("button", name="Look up").first.click()

    # Then the page says APNs refused the token, when, and the environment mismatch behind it
    diagnosis = page.get_by_test_id("diagnosis")
    expect(diagnosis).to_contain_text(
        re.compile(
            rf"DeviceRemoved APNs answered 400 BadDeviceToken at \S+ for device {token[:8]}…\(32B\) "
            rf"\(certificate {business_id}, development\): "
            "APNs refused the token for the development environment"
        )
    )
    expect(diagnosis).to_contain_text(
        "it comes from a TestFlight or App Store build, whose tokens need a production certificate"
    )
    expect(diagnosis).not_to_contain_text("never called setAPNS")
    expect(page.get_by_text("No device registered.")).to_be_visible()
    expect(page.locator("#why-result")).to_contain_text(
        f"{token[:8]}…(32B): APNs answered 400 BadDeviceToken at"
    )
    screenshot(page, "09-pruned-token")

    # And in Chinese the cause is in Chinese words
    page.get_by_role("button", name="切换到中文").click()
    expect(page.get_by_test_id("diagnosis")).to_contain_text("该用户的设备已被移除：APNs 拒绝了其 Token。")  # noqa: RUF001
    screenshot(page, "10-pruned-token-zh")


def test_delete_names_the_id_and_warns_before_anything_is_deleted(page: Page, world: ConsoleWorld) -> None:
    # Given a certificate in the table
    sign_in(page, world)
    open_app(page, 1400000002)
    add_certificate(page, world, name="To delete", password=PASSWORD)
    row = page.locator("tr[data-business-id]").first
    business_id = int(row.get_by_test_id("business-id").inner_text())

    # When the operator clicks delete, then cancels
    row.get_by_role("button", name=f"Delete certificate {business_id}").click()
    dialog = page.get_by_role("dialog", name=f"Delete certificate {business_id}?")
    expect(dialog).to_contain_text(
        f"Apps built with certificate ID {business_id} stop receiving pushes: their setAPNS calls fail and "
        "their devices get nothing."
    )
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    screenshot(page, "11-delete-confirmation")
    dialog.get_by_role("button", name="Cancel").click()

    # Then nothing was deleted
    assert [
        c["businessId"] for c in world.admin("GET", "/v1/apps/1400000002/certificates")["certificates"]
    ] == [business_id]

    # And when they confirm, it is gone from the table and the API
    row.get_by_role("button", name=f"Delete certificate {business_id}").click()
    dialog.get_by_role("button", name=f"Delete certificate {business_id}", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(f"Certificate {business_id} deleted.")
    expect(page.locator("tr[data-business-id]")).to_have_count(0)
    assert world.admin("GET", "/v1/apps/1400000002/certificates") == {"certificates": []}
    with pytest.raises(urllib.error.HTTPError) as refused:
        world.admin("GET", f"/v1/apps/1400000002/certificates/{business_id}")
    assert refused.value.code == 404


def test_an_expiring_certificate_is_flagged_and_rotated_under_the_same_id(
    page: Page, world: ConsoleWorld
) -> None:
    # Given a certificate that expires in ten days, uploaded over the API
    now = dt.datetime.now(dt.UTC)
    expiring = world.pki.issue_push_certificate(
        BUNDLE_ID, PushCertificateKind.DEVELOPMENT, not_after=now + dt.timedelta(days=10, hours=1)
    )
    created = world.admin(
        "POST",
        "/v1/apps/1400000003/certificates",
        {
            "name": "Chat expiring",
            "environment": "development",
            "password": PASSWORD,
            "file": base64.b64encode(expiring.p12(PASSWORD)).decode(),
        },
    )
    business_id = created["businessId"]

    # When the operator opens the app
    sign_in(page, world)
    open_app(page, 1400000003)

    # Then its expiry carries a warning
    row = page.locator(f"tr[data-business-id='{business_id}']")
    expect(row.locator(".badge.warning")).to_have_text("Expires in 10 days: rotate it before then.")
    screenshot(page, "12-expiring-certificate")

    # And when they rotate it with the renewed certificate, the ID stays and the warning goes
    row.get_by_role("button", name=f"Rotate certificate {business_id}").click()
    dialog = page.get_by_role("dialog", name=f"Rotate certificate {business_id}")
    expect(dialog.get_by_label("Environment")).to_have_value("keep")
    expect(dialog.get_by_label("p12 certificate")).to_be_disabled()
    dialog.get_by_label("File").set_input_files(p12_file(world))  # type: ignore[arg-type]
    dialog.get_by_label("Certificate password").fill(PASSWORD)
    screenshot(page, "13-rotate-dialog")
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Certificate {business_id} rotated: apps built with this ID keep receiving pushes."
    )
    [rotated] = world.admin("GET", "/v1/apps/1400000003/certificates")["certificates"]
    assert (rotated["businessId"], rotated["name"], rotated["environment"]) == (
        business_id,
        "Chat expiring",
        "development",
    )
    assert rotated["expiresAt"] > created["expiresAt"]
    expect(row.locator(".badge")).to_have_count(0)


def test_an_expired_certificate_is_shown_as_an_error(page: Page, world: ConsoleWorld) -> None:
    # Given a certificate valid for a year, and the operator's clock two years on
    world.admin(
        "POST",
        "/v1/apps/1400000004/certificates",
        {
            "name": "Chat old",
            "environment": "development",
            "password": PASSWORD,
            "file": base64.b64encode(p12_file(world)["buffer"]).decode(),  # type: ignore[arg-type]
        },
    )
    page.clock.install(time=dt.datetime.now(dt.UTC) + dt.timedelta(days=730))

    # When they open the app
    sign_in(page, world)
    open_app(page, 1400000004)

    # Then the expiry is an error that says what to do
    expect(page.locator("tr[data-business-id] .badge.error")).to_have_text(
        "Expired: this certificate pushes nothing. Rotate it now."
    )


def test_a_p8_token_key_is_added_with_its_ids_and_never_expires(page: Page, world: ConsoleWorld) -> None:
    # Given the add dialog switched to a p8 token key, where the p12 password gives way to the key's ids
    sign_in(page, world)
    open_app(page, 1400000005)
    page.get_by_role("button", name="Add certificate").click()
    dialog = page.get_by_role("dialog", name="Add certificate")
    dialog.get_by_label("p8 token key").check()
    expect(dialog.get_by_label("Certificate password")).to_be_hidden()
    dialog.get_by_label("Environment").select_option("production")
    dialog.get_by_label("Certificate name").fill("Chat token")
    dialog.get_by_label("File").set_input_files(
        {"name": "AuthKey_ABC123DEFG.p8", "mimeType": "application/octet-stream", "buffer": new_p8_key()}
    )
    dialog.get_by_label("Key ID").fill("ABC123DEF")
    dialog.get_by_label("Team ID").fill("DEF123GHIJ")
    dialog.get_by_label("Bundle ID").fill(BUNDLE_ID)

    # When a key ID one character short is sent, the dialog says so beside it and sends nothing
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.locator("#keyId-error")).to_have_text("The key ID has 10 letters or digits.")
    assert world.admin("GET", "/v1/apps/1400000005/certificates") == {"certificates": []}

    # And with the right one the key is added: type p8, production, no expiry
    dialog.get_by_label("Key ID").fill("ABC123DEFG")
    dialog.get_by_role("button", name="Confirm").click()
    row = page.locator("tr[data-business-id]").first
    expect(row).to_contain_text("Chat token")
    cells = [text.strip() for text in row.locator("td").all_inner_texts()]
    assert cells[:6] == [
        "Chat token",
        "p8",
        BUNDLE_ID,
        "production",
        "notifications, VoIP calls",
        "never (token key)",
    ]


def test_the_push_kinds_of_certificates_and_devices_are_shown_for_voip_calls(
    page: Page, world: ConsoleWorld
) -> None:
    # Given a universal certificate (its topics include <bundle>.voip) and a VoIP Services one, added in the
    # console
    sign_in(page, world)
    open_app(page, 1400000006)
    add_certificate(page, world, name="Chat universal", password=PASSWORD, kind=PushCertificateKind.UNIVERSAL)
    expect(page.get_by_role("status")).to_have_text(
        "Certificate 1 added. Compile certificate ID 1 into the app "
        "(the businessID of setAPNS and of setVOIP)."
    )
    add_certificate(page, world, name="Chat calls", password=PASSWORD, kind=PushCertificateKind.VOIP)
    expect(page.get_by_role("status")).to_have_text(
        "Certificate 2 added. Compile certificate ID 2 into the app (the businessID of setVOIP)."
    )
    expect(page.locator("tr[data-business-id]")).to_have_count(2)

    # Then each row says which pushes its certificate serves
    served = {
        row.locator("td").first.inner_text().strip(): row.get_by_test_id("push-kinds").inner_text()
        for row in page.locator("tr[data-business-id]").all()
    }
    assert served == {"Chat universal": "notifications, VoIP calls", "Chat calls": "VoIP calls"}

    # And when a user registers both an APNs token and a PushKit token with the universal certificate
    universal = int(
        page.locator("tr[data-business-id]", has_text="Chat universal")
        .get_by_test_id("business-id")
        .inner_text()
    )
    world.admin(
        "PUT", "/v1/apps/1400000006/settings", {"userAuth": {"algorithm": "HS256", "secret": USER_SECRET}}
    )
    apns_token, pushkit_token = os.urandom(32).hex(), os.urandom(32).hex()
    world.set_apns("carol", universal, apns_token, sdk_app_id=1400000006)
    world.set_apns("carol", universal, pushkit_token, sdk_app_id=1400000006, route="voip")

    # Then the user's lookup lists the two devices with their kinds
    page.get_by_label("User ID").fill("carol")
    page.get_by_role("button", name="Look up").first.click()
    rows = page.locator("#why-result tbody tr")
    expect(rows).to_have_count(2)
    kinds = {
        row.locator("td").nth(0).inner_text(): row.locator("td").nth(1).inner_text() for row in rows.all()
    }
    assert kinds == {f"{apns_token[:8]}…(32B)": "notifications", f"{pushkit_token[:8]}…(32B)": "VoIP calls"}
    screenshot(page, "22-push-kinds")

    # And in Chinese
    page.get_by_role("button", name="切换到中文").click()
    expect(
        page.locator("tr[data-business-id]", has_text="Chat universal").get_by_test_id("push-kinds")
    ).to_have_text("通知、VoIP 通话")
    page.get_by_role("button", name="Switch to English").click()
