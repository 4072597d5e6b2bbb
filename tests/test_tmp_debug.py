def test_debug(browser):
    page = browser.open_page("/explorer", charts=3)
    page.evaluate("""() => {
      window.__log = [];
      const box = document.querySelector('.st-key-run1-learning_rate');
      const input = box.querySelector("input[type='range']");
      window.__log.push(box.innerHTML.slice(0, 1500));
      for (const type of ['input', 'change', 'pointerdown', 'pointerup']) box.addEventListener(type, (e) => window.__log.push(type + ' ' + e.target.tagName + ' ' + (e.target.value||'')), true);
      new MutationObserver((rs) => rs.forEach(r => window.__log.push('attr ' + r.attributeName + ' ' + r.target.tagName + ' ' + r.target.getAttribute(r.attributeName)))).observe(box, {attributes: true, subtree: true, attributeFilter: ['aria-valuetext', 'aria-valuenow', 'value']});
    }""")
    thumb = page.locator(".st-key-run1-learning_rate [role='slider'], .st-key-run1-learning_rate input[type='range']").first
    box = thumb.bounding_box()
    print("thumb", box)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 30, box["y"] + box["height"] / 2, steps=5)
    page.wait_for_timeout(300)
    print("state during drag", page.evaluate("document.querySelector(\"[data-testid='stApp']\").getAttribute('data-test-script-state')"))
    page.mouse.up()
    page.wait_for_timeout(2000)
    for line in page.evaluate("window.__log"):
        print(line[:1500])
