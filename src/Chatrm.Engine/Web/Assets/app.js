// Chatrm's web client: the native protocol (docs/protocol.md) over a WebSocket, one frame per message.
// Every text from the server is shown with textContent, never parsed as HTML.
'use strict';

(function () {
  const HISTORY_PAGE = 50;
  // Refusals after which reconnecting would only be refused again (as Chatrm's own client does).
  const FINAL = new Set(['auth-failed', 'auth-required', 'invalid-name', 'name-taken', 'replaced', 'disconnected',
    'idle-timeout', 'unsupported-version']);

  const $ = (id) => document.getElementById(id);
  const state = {
    me: null,
    password: null,
    token: randomToken(),
    ids: null,            // the server's id scope: shown ids are kept only within one
    socket: null,
    welcomed: false,
    signedOut: false,
    attempts: 0,
    nextRef: 1,
    shown: new Set(),     // message ids already shown
    pending: new Map(),   // ref -> a sent message whose fate is not final yet
    conversations: new Map(), // key (a name in lower case, or a #room) -> conversation
    active: null,
    online: new Map(),    // lower-case name -> name as shown
    rooms: new Map(),     // every room the server has: name -> { memberCount, joined }
    joined: new Set(),    // rooms this user is in (lower case)
    asked: new Map(),     // ref -> what a question was for
    maxFrameBytes: 16384, // the welcome says
    reconnectTimer: null,
  };

  function randomToken() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function keyOf(name) { return name.toLowerCase(); }
  function isRoom(name) { return name.startsWith('#'); }
  function same(a, b) { return a != null && b != null && a.toLowerCase() === b.toLowerCase(); }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  // ---- the connection ----

  function connect() {
    clearTimeout(state.reconnectTimer);
    if (state.socket) { const old = state.socket; state.socket = null; old.close(); }
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    const socket = new WebSocket(scheme + location.host + '/ws');
    state.socket = socket;
    state.welcomed = false;
    socket.onopen = () => {
      const hello = { type: 'hello', protocol: 'chatrm_native', version: 1, user: state.me, resume: state.token };
      if (state.password) hello.password = state.password;
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame.type === 'string') onFrame(frame);
    };
    socket.onclose = () => {
      if (state.socket !== socket) return;
      state.socket = null;
      if (state.signedOut) return;
      if (!state.welcomed && state.attempts === 0 && !state.everWelcomed) {
        showSignIn('Could not reach the server.');
        return;
      }
      reconnectLater();
    };
  }

  function reconnectLater() {
    state.welcomed = false;
    setConnection('reconnecting…', true);
    // Full jitter, as Chatrm's client: attempt n waits 0 to min(5 s, 100 ms x 2^n).
    const wait = Math.random() * Math.min(5000, 100 * Math.pow(2, state.attempts));
    state.attempts++;
    state.reconnectTimer = setTimeout(() => { if (!state.signedOut) connect(); }, wait);
  }

  function send(frame) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function ask(frame, purpose) {
    const ref = 'q' + state.nextRef++;
    frame.ref = ref;
    state.asked.set(ref, purpose || {});
    send(frame);
    return ref;
  }

  function setConnection(text, down) {
    const node = $('connection');
    node.textContent = text;
    node.classList.toggle('down', !!down);
  }

  // ---- frames from the server ----

  function onFrame(f) {
    switch (f.type) {
      case 'welcome': return onWelcome(f);
      case 'message': return onMessage(f);
      case 'status': return onStatus(f);
      case 'users': return onUsers(f);
      case 'presence': return onPresence(f);
      case 'room': return onRoom(f);
      case 'rooms': return onRooms(f);
      case 'history': return onHistory(f);
      case 'error': return onError(f);
      case 'ping': return send({ type: 'pong' });
      case 'bye': return; // the close follows; a server that stops is reconnected to
    }
  }

  function onWelcome(f) {
    state.welcomed = true;
    state.everWelcomed = true;
    state.attempts = 0;
    state.me = f.user;
    if (state.ids !== null && f.ids !== state.ids) state.shown.clear();
    state.ids = f.ids || null;
    if (f.maxFrameBytes > 0) state.maxFrameBytes = f.maxFrameBytes;
    $('me').textContent = f.user;
    setConnection('online', false);
    showChat();
    ask({ type: 'who' });
    ask({ type: 'rooms' });
    for (const room of state.joined) ask({ type: 'join', room: conversation(room).name }, { rejoin: true });
    // What waited for a link goes now, in the order first sent; the server drops a ref it has already routed.
    for (const [ref, p] of state.pending) send({ type: 'send', ref: ref, to: p.to, text: p.text });
    // A direct conversation may have missed lines while away (its own sent ones, from another tab): catch up.
    const open = state.active && state.conversations.get(state.active);
    if (open && !open.room && open.loaded) fetchNewer(open);
  }

  function onMessage(f) {
    if (!f.room) send({ type: 'ack', id: f.id }); // room messages need no ack
    if (state.shown.has(f.id)) return;
    state.shown.add(f.id);
    const other = f.room || (same(f.from, state.me) ? f.to : f.from);
    const c = conversation(other);
    add(c, { id: f.id, from: f.from, text: f.text, sentAt: f.sentAt, seq: f.seq });
    if (f.seq && (!c.lastSeq || f.seq > c.lastSeq)) c.lastSeq = f.seq;
    if (state.active !== c.key || document.hidden) c.unread++;
    render();
  }

  function onStatus(f) {
    const p = f.ref && state.pending.get(f.ref);
    if (!p) return;
    p.line.state = f.status;
    p.line.reason = f.message || f.reason;
    if (f.id) { p.line.id = f.id; state.shown.add(f.id); conversation(p.to).ids.add(f.id); }
    if (f.sentAt) p.line.sentAt = f.sentAt;
    if (f.seq) {
      p.line.seq = f.seq;
      const c = conversation(p.to);
      if (!c.lastSeq || f.seq > c.lastSeq) c.lastSeq = f.seq;
    }
    // stored waits for its receipt; every other status is the message's last word.
    if (f.status !== 'stored') state.pending.delete(f.ref);
    render();
  }

  function onUsers(f) {
    state.online.clear();
    for (const u of f.users || []) if (!same(u.name, state.me)) state.online.set(keyOf(u.name), u.name);
    render();
  }

  function onPresence(f) {
    const joinedNow = f.event === 'joined';
    if (f.room) {
      const c = conversation(f.room);
      if (c.members) {
        if (joinedNow) c.members.add(f.user); else for (const m of c.members) if (same(m, f.user)) c.members.delete(m);
      }
      note(c, f.user + (joinedNow ? ' joined ' : ' left ') + f.room);
      const listed = state.rooms.get(f.room);
      if (listed) listed.memberCount = Math.max(0, listed.memberCount + (joinedNow ? 1 : -1));
    } else {
      if (same(f.user, state.me)) return;
      if (joinedNow) state.online.set(keyOf(f.user), f.user); else state.online.delete(keyOf(f.user));
      const c = state.conversations.get(keyOf(f.user));
      if (c) note(c, f.user + (joinedNow ? ' is online' : ' went offline'));
    }
    render();
  }

  function onRoom(f) {
    const purpose = state.asked.get(f.ref) || {};
    state.asked.delete(f.ref);
    const c = conversation(f.room);
    state.rooms.set(f.room, { memberCount: f.memberCount, joined: f.joined });
    if (f.joined) {
      state.joined.add(c.key);
      c.members = new Set(f.members || []);
      if (purpose.rejoin && c.lastSeq && f.seq > c.lastSeq) fetchNewer(c);
      if (purpose.open) open(c.key);
    } else {
      state.joined.delete(c.key);
      if (purpose.part) {
        state.conversations.delete(c.key);
        if (state.active === c.key) closeConversation();
      }
    }
    render();
  }

  function onRooms(f) {
    state.rooms.clear();
    for (const r of f.rooms || []) state.rooms.set(r.name, { memberCount: r.memberCount, joined: r.joined });
    render();
  }

  function onHistory(f) {
    const purpose = state.asked.get(f.ref) || {};
    state.asked.delete(f.ref);
    const c = conversation(f.room || f.with);
    const lines = (f.messages || []).filter((m) => !c.ids.has(m.id));
    for (const m of f.messages || []) state.shown.add(m.id);
    const fresh = lines.map((m) => ({ id: m.id, from: m.from, text: m.text, sentAt: m.sentAt, seq: m.seq }));
    for (const line of fresh) c.ids.add(line.id);
    if (purpose.older || purpose.first) {
      // Older lines go before what is shown; a first page also says whether there is more before it.
      c.lines = fresh.concat(c.lines);
      c.hasOlder = (f.messages || []).length >= HISTORY_PAGE;
      c.loaded = true;
    } else {
      c.lines = c.lines.concat(fresh);
    }
    for (const m of f.messages || []) if (m.seq && (!c.lastSeq || m.seq > c.lastSeq)) c.lastSeq = m.seq;
    c.loading = false;
    const box = $('messages');
    const fromBottom = box.scrollHeight - box.scrollTop;
    render();
    // Paging back keeps the line that was at the top where it was.
    if (purpose.older && state.active === c.key) box.scrollTop = box.scrollHeight - fromBottom;
  }

  function onError(f) {
    const purpose = f.ref ? state.asked.get(f.ref) : null;
    if (f.ref) state.asked.delete(f.ref);
    if (!state.welcomed || FINAL.has(f.code)) {
      if (FINAL.has(f.code) || !state.everWelcomed) {
        state.signedOut = true;
        const needsPassword = f.code === 'auth-failed' || f.code === 'auth-required';
        if (needsPassword) $('password-row').hidden = false;
        showSignIn((needsPassword ? 'This server needs a password: ' : '') + (f.message || f.code));
        if (state.socket) state.socket.close();
        return;
      }
    }
    if (purpose && purpose.history) {
      const c = state.conversations.get(purpose.history);
      if (c) { c.loading = false; c.loaded = true; c.hasOlder = false; }
    }
    $('open-error').textContent = f.message || f.code;
    render();
  }

  // ---- conversations ----

  function conversation(name) {
    const key = keyOf(name);
    let c = state.conversations.get(key);
    if (!c) {
      c = { key: key, name: name, room: isRoom(name), lines: [], ids: new Set(), unread: 0, lastSeq: 0,
        loaded: false, loading: false, hasOlder: false, members: null };
      state.conversations.set(key, c);
    }
    return c;
  }

  function add(c, line) {
    if (line.id) {
      if (c.ids.has(line.id)) return;
      c.ids.add(line.id);
    }
    c.lines.push(line);
  }

  function note(c, text) { c.lines.push({ notice: text }); }

  function oldestSeq(c) {
    let oldest = 0;
    for (const l of c.lines) if (l.seq && (!oldest || l.seq < oldest)) oldest = l.seq;
    return oldest;
  }

  function historyQuestion(c) {
    return c.room ? { type: 'history', room: c.name } : { type: 'history', with: c.name };
  }

  function fetchFirst(c) {
    if (c.loading) return;
    c.loading = true;
    const q = historyQuestion(c);
    q.last = HISTORY_PAGE;
    ask(q, { first: true, history: c.key });
  }

  function fetchOlder(c) {
    const before = oldestSeq(c);
    if (c.loading || !c.hasOlder || !before) return;
    c.loading = true;
    const q = historyQuestion(c);
    q.last = HISTORY_PAGE;
    q.before = before;
    ask(q, { older: true, history: c.key });
  }

  function fetchNewer(c) {
    const q = historyQuestion(c);
    q.last = 1000;
    if (c.lastSeq) q.after = c.lastSeq;
    ask(q, { newer: true, history: c.key });
  }

  function open(key) {
    const c = state.conversations.get(key);
    if (!c) return;
    state.active = key;
    c.unread = 0;
    $('conversation').hidden = false;
    $('chat-view').classList.add('open');
    if (!c.loaded) fetchFirst(c);
    render();
    const box = $('messages');
    box.scrollTop = box.scrollHeight;
    $('text').focus();
  }

  function closeConversation() {
    state.active = null;
    $('conversation').hidden = true;
    $('chat-view').classList.remove('open');
  }

  function openTarget(raw) {
    const name = raw.trim();
    $('open-error').textContent = '';
    if (!name) return;
    if (isRoom(name)) {
      ask({ type: 'join', room: name }, { open: true });
    } else if (same(name, state.me)) {
      $('open-error').textContent = 'That is you.';
    } else {
      open(conversation(name).key);
    }
  }

  function sendText() {
    const c = state.active && state.conversations.get(state.active);
    const input = $('text');
    const text = input.value;
    if (!c || !text.trim()) return;
    const ref = 'm' + state.nextRef++;
    const line = { from: state.me, text: text, mine: true, state: 'sending' };
    c.lines.push(line);
    const frame = { type: 'send', ref: ref, to: c.name, text: text };
    // The server closes the WebSocket on a frame over its limit: such a message is refused here instead.
    const size = new TextEncoder().encode(JSON.stringify(frame)).length;
    if (size > state.maxFrameBytes) {
      line.state = 'refused';
      line.reason = 'too long (' + size + ' bytes; this server takes ' + state.maxFrameBytes + ')';
    } else {
      state.pending.set(ref, { to: c.name, text: text, line: line });
      send(frame);
    }
    input.value = '';
    render();
    const box = $('messages');
    box.scrollTop = box.scrollHeight;
  }

  // ---- drawing: textContent only ----

  function time(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function render() {
    renderList();
    renderConversation();
  }

  function item(text, className, onClick, badge, data) {
    const li = el('li', className);
    li.appendChild(el('span', 'name', text));
    if (badge) li.appendChild(badge);
    for (const k in data || {}) li.dataset[k] = data[k];
    li.addEventListener('click', onClick);
    return li;
  }

  function renderList() {
    const conversations = $('conversations');
    conversations.replaceChildren();
    for (const c of state.conversations.values()) {
      if (c.room && !state.joined.has(c.key)) continue;
      const badge = c.unread ? el('span', 'unread', c.unread) : null;
      const li = item(c.name, 'conversation' + (state.active === c.key ? ' active' : ''), () => open(c.key), badge, { key: c.key });
      conversations.appendChild(li);
    }
    const people = $('people');
    people.replaceChildren();
    const names = Array.from(state.online.values()).sort((a, b) => a.localeCompare(b));
    for (const name of names) {
      people.appendChild(item(name, 'person', () => open(conversation(name).key), null, { name: name }));
    }
    const rooms = $('rooms');
    rooms.replaceChildren();
    const all = Array.from(state.rooms.entries()).sort((a, b) => a[0].localeCompare(b[0]));
    for (const [name, r] of all) {
      const count = el('span', 'count', r.memberCount + (r.memberCount === 1 ? ' member' : ' members'));
      const joined = state.joined.has(keyOf(name));
      rooms.appendChild(item(name, 'room', () => joined ? open(keyOf(name)) : ask({ type: 'join', room: name }, { open: true }), count, { room: name }));
    }
  }

  function renderConversation() {
    const c = state.active && state.conversations.get(state.active);
    if (!c) return;
    $('title').textContent = c.name;
    $('members').textContent = c.room && c.members ? Array.from(c.members).join(', ') : (state.online.has(c.key) ? 'online' : '');
    $('leave').hidden = !c.room;
    $('older').hidden = !c.hasOlder;
    const lines = $('lines');
    lines.replaceChildren();
    for (const l of c.lines) {
      if (l.notice) { lines.appendChild(el('li', 'notice', l.notice)); continue; }
      const mine = l.mine || same(l.from, state.me);
      const li = el('li', 'message' + (mine ? ' mine' : ''));
      if (l.id) li.dataset.id = l.id;
      li.appendChild(el('span', 'from', l.from));
      li.appendChild(el('span', 'text', l.text));
      li.appendChild(el('span', 'time', time(l.sentAt)));
      if (mine && l.state) {
        const s = el('span', 'state ' + l.state, l.state === 'refused' ? 'not sent: ' + (l.reason || '') : l.state);
        li.appendChild(s);
      }
      lines.appendChild(li);
    }
  }

  // ---- views ----

  function showSignIn(error) {
    $('chat-view').hidden = true;
    $('signin-view').hidden = false;
    $('signin-error').textContent = error || '';
  }

  function showChat() {
    $('signin-view').hidden = true;
    $('chat-view').hidden = false;
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('signin').addEventListener('submit', (e) => {
      e.preventDefault();
      clearTimeout(state.reconnectTimer);
      state.me = $('name').value.trim();
      state.password = $('password').value || null;
      state.signedOut = false;
      state.attempts = 0;
      state.everWelcomed = false;
      $('signin-error').textContent = '';
      connect();
    });
    $('open-form').addEventListener('submit', (e) => { e.preventDefault(); openTarget($('target').value); $('target').value = ''; });
    $('composer').addEventListener('submit', (e) => { e.preventDefault(); sendText(); });
    $('text').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); sendText(); }
    });
    $('back').addEventListener('click', () => { closeConversation(); render(); });
    $('leave').addEventListener('click', () => {
      const c = state.active && state.conversations.get(state.active);
      if (c && c.room) ask({ type: 'part', room: c.name }, { part: true });
    });
    $('older').addEventListener('click', () => {
      const c = state.active && state.conversations.get(state.active);
      if (c) fetchOlder(c);
    });
    $('messages').addEventListener('scroll', () => {
      const c = state.active && state.conversations.get(state.active);
      if (c && $('messages').scrollTop < 40) fetchOlder(c);
    });
    document.addEventListener('visibilitychange', () => {
      const c = state.active && state.conversations.get(state.active);
      if (!document.hidden && c && c.unread) { c.unread = 0; render(); }
    });
  });
})();
