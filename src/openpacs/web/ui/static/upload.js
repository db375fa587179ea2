// The upload page: files or whole folders (a patient CD too) sent with STOW-RS in batches.
// Which files: *.dcm, and every file that starts like DICOM ("DICM" at byte 128, as a CD's
// extensionless IMAGES/IM00001); DICOMDIR and other files are skipped. Each file's result
// comes from the STOW answer: stored, already stored ((0009,1002) ALREADY_STORED), or failed
// with the server's reason in words ((0009,1001)). Each answer names its part's position in
// the request ((0009,1003), 1-based), so it goes to the file sent in that part: two files of
// one instance, or a file the server could not read, still get their own result.
(function () {
  'use strict';
  var root = document.getElementById('upload');
  if (!root) { return; }
  var prefix = document.body.getAttribute('data-prefix') || '';
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
  var drop = document.getElementById('drop');
  var filesInput = document.getElementById('pick-files');
  var folderInput = document.getElementById('pick-folder');
  var bar = document.getElementById('progress');
  var progressText = document.getElementById('progress-text');
  var summary = document.getElementById('summary');
  var resultsBody = document.querySelector('#results tbody');
  var resultsBox = document.getElementById('results-box');
  var MAX_FILES = 25;
  var MAX_BYTES = 16 * 1024 * 1024;
  var busy = false;

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) { el.className = cls; }
    return el;
  }

  function size(bytes) {
    if (bytes < 1024 * 1024) { return (bytes / 1024).toFixed(0) + ' kB'; }
    return (bytes / 1024 / 1024).toFixed(1) + ' MB';
  }

  // -- collecting files (dropped folders are walked) ---------------------------------------
  function readAll(reader) {
    return new Promise(function (resolve, reject) {
      var all = [];
      (function more() {
        reader.readEntries(function (entries) {
          if (!entries.length) { resolve(all); return; }
          all = all.concat(Array.prototype.slice.call(entries));
          more();
        }, reject);
      })();
    });
  }

  function walk(entry, path) {
    if (entry.isFile) {
      return new Promise(function (resolve) {
        entry.file(function (file) { resolve([{file: file, path: path + file.name}]); },
          function () { resolve([]); });
      });
    }
    if (entry.isDirectory) {
      return readAll(entry.createReader()).then(function (entries) {
        return Promise.all(entries.map(function (e) {
          return walk(e, path + entry.name + '/');
        })).then(function (lists) { return [].concat.apply([], lists); });
      });
    }
    return Promise.resolve([]);
  }

  // -- what a file is -----------------------------------------------------------------------
  function head(file, bytes) {
    return new Promise(function (resolve) {
      var reader = new FileReader();
      reader.onload = function () { resolve(new Uint8Array(reader.result)); };
      reader.onerror = function () { resolve(new Uint8Array(0)); };
      reader.readAsArrayBuffer(file.slice(0, bytes));
    });
  }

  function ascii(bytes, start, length) {
    var out = '';
    for (var k = start; k < start + length && k < bytes.length; k++) {
      out += String.fromCharCode(bytes[k]);
    }
    return out.replace(/[\0 ]+$/, '');
  }

  function classify(item) {
    var name = item.file.name;
    if (name.toUpperCase() === 'DICOMDIR') {
      return Promise.resolve({skip: 'the index of a CD (DICOMDIR), not an image'});
    }
    return head(item.file, 132).then(function (bytes) {
      var magic = ascii(bytes, 128, 4) === 'DICM';
      if (magic || /\.dcm$/i.test(name)) { return {}; }
      return {skip: item.file.size === 0 ? 'an empty file' : 'not a DICOM file'};
    });
  }

  // -- sending -----------------------------------------------------------------------------
  function boundary() {
    var chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
    var out = 'openpacs-web-';
    for (var k = 0; k < 24; k++) { out += chars[Math.floor(Math.random() * chars.length)]; }
    return out;
  }

  function body(batch, mark) {
    var parts = [];
    batch.forEach(function (item) {
      parts.push('--' + mark + '\r\nContent-Type: application/dicom\r\n\r\n');
      parts.push(item.file);
      parts.push('\r\n');
    });
    parts.push('--' + mark + '--\r\n');
    return new Blob(parts);
  }

  function send(batch, onProgress) {
    return new Promise(function (resolve) {
      var mark = boundary();
      var xhr = new XMLHttpRequest();
      xhr.open('POST', prefix + '/dicomweb/studies');
      xhr.setRequestHeader('Content-Type',
        'multipart/related; type="application/dicom"; boundary=' + mark);
      xhr.setRequestHeader('Accept', 'application/dicom+json');
      xhr.setRequestHeader('X-CSRF-Token', csrf);
      xhr.upload.onprogress = function (e) { onProgress(e.loaded); };
      xhr.onload = function () {
        var answer = null;
        try { answer = JSON.parse(xhr.responseText || 'null'); } catch (err) { answer = null; }
        resolve({status: xhr.status, answer: answer,
                 reason: xhr.getResponseHeader('X-Error-Reason') || ''});
      };
      xhr.onerror = function () {
        resolve({status: 0, answer: null, reason: 'the connection to the server failed'});
      };
      xhr.send(body(batch, mark));
    });
  }

  function value(item, tag) {
    var el = item && item[tag];
    return el && el.Value && el.Value.length ? String(el.Value[0]) : '';
  }

  function part(item) {
    var n = Number(value(item, '00091003'));
    return n >= 1 && Math.floor(n) === n ? n : 0;
  }

  // Outcomes of a batch from the STOW answer: each item goes to the file of its part
  // (0009,1003); a file the answer does not name failed with the request's own reason.
  function outcomes(batch, reply) {
    var answer = reply.answer || {};
    var stored = (answer['00081199'] && answer['00081199'].Value) || [];
    var failed = (answer['00081198'] && answer['00081198'].Value) || [];
    var results = batch.map(function () { return null; });
    stored.forEach(function (item) {
      var k = part(item) - 1;
      if (k >= 0 && k < results.length && !results[k]) {
        results[k] = {reason: '',
          state: value(item, '00091002') === 'ALREADY_STORED' ? 'already' : 'stored'};
      }
    });
    failed.forEach(function (item) {
      var k = part(item) - 1;
      if (k >= 0 && k < results.length && !results[k]) {
        results[k] = {state: 'failed',
          reason: value(item, '00091001') || value(item, '00000902') || 'failed'};
      }
    });
    return results.map(function (result) {
      if (result) { return result; }
      if (reply.status === 401) {
        return {state: 'failed', reason: 'your session ended: sign in again and retry'};
      }
      return {state: 'failed', reason: reply.reason ||
        ('the server answered ' + (reply.status || 'nothing'))};
    });
  }

  // -- the page ----------------------------------------------------------------------------
  var WORDS = {stored: 'Stored', already: 'Already stored', failed: 'Failed', skipped: 'Skipped'};
  var PILLS = {stored: 'pill ok', already: 'pill', failed: 'pill bad', skipped: 'pill wait'};
  var counts;

  function row(path, state, reason) {
    counts[state] += 1;
    var tr = document.createElement('tr');
    tr.className = 'result-' + state;
    tr.appendChild(text('td', path, 'mono'));
    var cell = document.createElement('td');
    cell.appendChild(text('span', WORDS[state], PILLS[state]));
    tr.appendChild(cell);
    tr.appendChild(text('td', reason));
    resultsBody.appendChild(tr);
  }

  function showSummary(done) {
    summary.textContent = '';
    ['stored', 'already', 'failed', 'skipped'].forEach(function (state) {
      summary.appendChild(text('span', WORDS[state] + ': ' + counts[state],
        PILLS[state] + ' count-' + state));
    });
    if (done) {
      var line = text('p', counts.failed ? 'Finished, with failures: see the reasons below.'
        : 'Finished: every DICOM file is in the archive.', 'notice-box ' +
        (counts.failed ? 'error' : 'ok'));
      line.id = 'upload-done';
      summary.appendChild(line);
    }
  }

  function start(items) {
    if (busy || !items.length) { return; }
    busy = true;
    counts = {stored: 0, already: 0, failed: 0, skipped: 0};
    resultsBody.textContent = '';
    resultsBox.classList.remove('hidden');
    progressText.textContent = 'Looking at ' + items.length + ' file(s)...';
    Promise.all(items.map(function (item) {
      return classify(item).then(function (kind) {
        item.skip = kind.skip;
        return item;
      });
    })).then(function (all) {
      var sendable = all.filter(function (item) { return !item.skip; });
      all.filter(function (item) { return item.skip; }).forEach(function (item) {
        row(item.path, 'skipped', item.skip);
      });
      var total = sendable.reduce(function (sum, item) { return sum + item.file.size; }, 0);
      var batches = [];
      var current = [];
      var bytes = 0;
      sendable.forEach(function (item) {
        if (current.length && (current.length >= MAX_FILES || bytes + item.file.size > MAX_BYTES)) {
          batches.push(current);
          current = [];
          bytes = 0;
        }
        current.push(item);
        bytes += item.file.size;
      });
      if (current.length) { batches.push(current); }
      var sent = 0;
      bar.max = Math.max(total, 1);
      bar.value = 0;
      showSummary(false);
      var index = 0;
      function next() {
        if (index >= batches.length) {
          bar.value = bar.max;
          progressText.textContent = 'Sent ' + sendable.length + ' file(s), ' + size(total) + '.';
          showSummary(true);
          busy = false;
          return;
        }
        var batch = batches[index];
        var batchBytes = batch.reduce(function (sum, item) { return sum + item.file.size; }, 0);
        index += 1;
        send(batch, function (loaded) {
          bar.value = Math.min(sent + loaded, bar.max);
          progressText.textContent = 'Sending ' + size(Math.min(sent + loaded, total)) + ' of ' +
            size(total) + ' (batch ' + index + ' of ' + batches.length + ')';
        }).then(function (reply) {
          sent += batchBytes;
          bar.value = Math.min(sent, bar.max);
          outcomes(batch, reply).forEach(function (result, k) {
            row(batch[k].path, result.state, result.reason);
          });
          showSummary(false);
          next();
        });
      }
      next();
    });
  }

  function fromList(list) {
    return Array.prototype.map.call(list, function (file) {
      return {file: file, path: file.webkitRelativePath || file.name};
    });
  }

  filesInput.addEventListener('change', function () { start(fromList(filesInput.files)); });
  folderInput.addEventListener('change', function () { start(fromList(folderInput.files)); });
  ['dragenter', 'dragover'].forEach(function (name) {
    drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.add('over'); });
  });
  ['dragleave', 'drop'].forEach(function (name) {
    drop.addEventListener(name, function () { drop.classList.remove('over'); });
  });
  drop.addEventListener('drop', function (e) {
    e.preventDefault();
    var items = e.dataTransfer.items;
    if (items && items.length && items[0].webkitGetAsEntry) {
      var entries = Array.prototype.map.call(items, function (i) { return i.webkitGetAsEntry(); })
        .filter(Boolean);
      if (!entries.length) { start(fromList(e.dataTransfer.files)); return; }
      Promise.all(entries.map(function (entry) { return walk(entry, ''); })).then(function (lists) {
        start([].concat.apply([], lists));
      });
    } else {
      start(fromList(e.dataTransfer.files));
    }
  });
  window.addEventListener('beforeunload', function (e) {
    if (busy) { e.preventDefault(); e.returnValue = ''; }
  });
})();
