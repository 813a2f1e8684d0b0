// Small progressive enhancements for the console; every page works without them.
(function () {
  "use strict";

  // "Select all" checkboxes: <input type="checkbox" data-select-all="ids"> ticks every
  // checkbox named "ids" in the same form and says how many are selected.
  for (const master of document.querySelectorAll("input[data-select-all]")) {
    const form = master.form;
    const boxes = () => form.querySelectorAll(`input[type="checkbox"][name="${master.dataset.selectAll}"]`);
    const count = form.querySelector("[data-selected-count]");
    const refresh = () => {
      const all = boxes();
      const ticked = Array.from(all).filter((box) => box.checked).length;
      master.checked = all.length > 0 && ticked === all.length;
      master.indeterminate = ticked > 0 && ticked < all.length;
      if (count) count.textContent = `${ticked} selected`;
    };
    master.addEventListener("change", () => {
      for (const box of boxes()) box.checked = master.checked;
      refresh();
    });
    form.addEventListener("change", (event) => { if (event.target !== master) refresh(); });
    refresh();
  }

  // Typing a value of one's own chooses the "Edit" option of that field.
  for (const input of document.querySelectorAll("input[data-choose]")) {
    input.addEventListener("input", () => {
      const radio = document.getElementById(input.dataset.choose);
      if (radio) radio.checked = true;
    });
  }

  // "Watch it applied": an element with data-watch="<ms>" re-reads itself from the page at that
  // interval until the server renders it without data-watch (the work is done).
  for (const watched of document.querySelectorAll("[data-watch]")) {
    const every = Number(watched.dataset.watch) || 2000;
    const check = async () => {
      const response = await fetch(location.href, { headers: { "X-Requested-With": "fetch" } });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById(watched.id);
      if (!fresh) return;
      watched.replaceChildren(...fresh.childNodes);
      if (fresh.hasAttribute("data-watch")) setTimeout(check, every);
      else watched.removeAttribute("data-watch");
    };
    setTimeout(check, every);
  }
})();
