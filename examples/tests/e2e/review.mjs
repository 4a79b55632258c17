// Drives headless chromium against a running review page: checks that an untrusted merchant
// name is shown as text and nothing runs, then approves the item with Ctrl+E and skips the
// next with Ctrl+R. Prints one JSON line with what it saw. Usage: node review.mjs URL
import { chromium } from "playwright-core";

const url = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const result = { dialogs: [], consoleErrors: [] };
try {
  const page = await browser.newPage();
  page.on("dialog", async (d) => { result.dialogs.push(d.message()); await d.dismiss(); });
  page.on("console", (m) => { if (m.type() === "error") result.consoleErrors.push(m.text()); });
  await page.goto(url);
  await page.waitForSelector("body[data-ready='1']", { timeout: 15000 });
  result.merchantValue = await page.inputValue("#merchant_name");
  result.imgCount = await page.locator("img").count();
  result.queueFirst = await page.locator("#queue button").first().textContent();
  result.progressBefore = await page.textContent("#progress");
  // Ctrl+E approves (focus in a field, as a reviewer's would be)
  await page.focus("#department");
  await page.keyboard.press("Control+e");
  await page.waitForFunction(() => document.getElementById("progress").textContent.startsWith("1 /"), null, { timeout: 15000 });
  result.afterApprove = await page.textContent("#progress");
  result.statusAfterApprove = await page.textContent("#status");
  // Ctrl+R skips
  await page.keyboard.press("Control+r");
  await page.waitForFunction(() => document.getElementById("progress").textContent.startsWith("2 /"), null, { timeout: 15000 });
  result.afterSkip = await page.textContent("#progress");
  // an invalid edit shows a message and saves nothing
  await page.fill("#amount", "-5");
  await page.click("#approve");
  await page.waitForFunction(() => document.getElementById("message").className === "error", null, { timeout: 15000 });
  result.invalidMessage = await page.textContent("#message");
  result.afterInvalid = await page.textContent("#progress");
  // give any injected handler a moment to fire
  await page.waitForTimeout(300);
  result.dialogsAtEnd = result.dialogs.length;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
