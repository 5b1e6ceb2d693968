// The same echo as crossws hooks, the portable API: tsgw serves it with each runtime's crossws adapter.
export default {
  fetch: () => new Response("ok"),
  websocket: {
    upgrade() {},
    message: (peer, message) => peer.send(message.text()),
  },
};
