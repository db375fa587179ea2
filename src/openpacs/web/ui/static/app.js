// openpacs web application: small helpers for every page (no framework, no build step).
(function () {
  'use strict';
  // data-confirm asks once before going on (the text names what is at stake): on a form,
  // when it is submitted (by a click or the Enter key); on a link or a button outside such
  // a form, when it is clicked. A click on a form's button is asked by the form alone.
  document.addEventListener('click', function (e) {
    var el = e.target.closest('a[data-confirm], button[data-confirm]');
    if (el && !window.confirm(el.getAttribute('data-confirm'))) { e.preventDefault(); }
  });
  document.addEventListener('submit', function (e) {
    var text = e.target.getAttribute('data-confirm');
    if (text && !window.confirm(text)) { e.preventDefault(); }
  });
  // Copy buttons: data-copy names the input whose value is copied.
  document.addEventListener('click', function (e) {
    var button = e.target.closest('[data-copy]');
    if (!button) { return; }
    var input = document.getElementById(button.getAttribute('data-copy'));
    if (!input) { return; }
    input.select();
    var done = function () { button.textContent = 'Copied'; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        document.execCommand('copy'); done();
      });
    } else { document.execCommand('copy'); done(); }
  });
  // Tables read as cards on a phone (app.css): each cell is labelled with its column's
  // heading, taken from the table itself so that no page has to repeat it. The upload
  // page's results table fills later: it is labelled as its rows arrive.
  function labelCells(table) {
    var heads = Array.prototype.map.call(table.querySelectorAll('thead th'), function (th) {
      return th.textContent.trim();
    });
    Array.prototype.forEach.call(table.querySelectorAll('tbody tr'), function (tr) {
      Array.prototype.forEach.call(tr.children, function (cell, k) {
        if (heads[k] && !cell.hasAttribute('data-label')) {
          cell.setAttribute('data-label', heads[k]);
        }
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('.table-wrap table'), function (table) {
    labelCells(table);
    var body = table.querySelector('tbody');
    if (body && window.MutationObserver) {
      new MutationObserver(function () { labelCells(table); }).observe(body, {childList: true});
    }
  });
  // Selects with data-submit send their form when changed (sort, page size).
  document.addEventListener('change', function (e) {
    if (e.target.matches('select[data-submit]')) { e.target.form.submit(); }
  });
})();
