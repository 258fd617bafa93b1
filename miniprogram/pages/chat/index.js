// Customer-service chat with the picked store: my conversations, a new one (optionally
// about an order), its messages and sending. New messages are fetched after the last seq
// every few seconds while the page is shown (GET .../messages?after_seq=), so a reply
// from any bridge worker arrives; a message is sent once (client_msg_id).
const api = require('../../lib/api.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

// Often enough that a reply feels live, rarely enough for a phone on a mobile network.
const POLL_MS = 3000

let sent = 0
function clientMsgId() {
  sent += 1
  return `mp-${Date.now().toString(36)}-${sent}`
}

Component({
  data: { t: {}, conversations: [], conversation: null, messages: [], lastSeq: 0,
          subject: '', text: '', orderNo: '', loaded: false, busy: false, error: '' },
  methods: {
    onLoad(options) {
      track.pageView('pages/chat/index')
      localise(this, 'chatTitle')
      if (!session.requireLogin()) return null
      this.setData({ orderNo: (options && options.order_no) || '' })
      return this.loadConversations()
    },
    onUnload() {
      this.stopPolling()
    },
    onHide() {
      this.stopPolling()
    },
    onShow() {
      if (this.data.conversation) this.startPolling()
    },
    async loadConversations() {
      try {
        const reply = await api.call('conversations', { query: { limit: 50 } })
        this.setData({ loaded: true, error: '', conversations: reply.items
          .filter(c => c.channel === 'chat')
          .map(c => ({ id: c.id, subject: c.subject, store: c.store,
                       date: c.updated_at.slice(0, 16).replace('T', ' ') })) })
      } catch (err) {
        fail(this, err)
      }
    },
    onField(e) {
      this.setData({ [e.currentTarget.dataset.field]: e.detail.value })
    },
    async start() {
      const d = this.data
      if (d.busy || !d.subject.trim()) return
      const body = { store: session.store(), subject: d.subject.trim() }
      if (d.orderNo) body.order_no = d.orderNo
      this.setData({ busy: true, error: '' })
      try {
        const c = await api.call('startChat', { body })
        this.setData({ busy: false, subject: '' })
        await this.openConversation(c.id, c.subject)
      } catch (err) {
        fail(this, err)
      }
    },
    open(e) {
      const c = this.data.conversations.find(x => x.id === Number(e.currentTarget.dataset.id))
      return c ? this.openConversation(c.id, c.subject) : null
    },
    async openConversation(id, subject) {
      this.setData({ conversation: { id, subject }, messages: [], lastSeq: 0 })
      if (await this.poll()) this.startPolling()
    },
    // The messages after the last one shown (every message, mine included, has a seq);
    // false when the bridge could not be asked (polling stops, the error is shown).
    async poll() {
      const d = this.data
      if (!d.conversation) return false
      const t = d.t
      try {
        const reply = await api.call('chatMessages', { path: { conversation_id: d.conversation.id },
                                                       query: { after_seq: d.lastSeq } })
        if (!reply.items.length) return true
        const fresh = reply.items.map(m => ({
          seq: m.seq, body: m.body, mine: m.sender_kind === 'customer',
          who: m.sender_kind === 'customer' ? t.me : t.staff,
          at: m.created_at.slice(11, 16) }))
        this.setData({ messages: [...d.messages, ...fresh], lastSeq: fresh[fresh.length - 1].seq })
        return true
      } catch (err) {
        this.stopPolling()
        fail(this, err)
        return false
      }
    },
    startPolling() {
      this.stopPolling()
      this.timer = setInterval(() => this.poll(), POLL_MS)
    },
    stopPolling() {
      if (this.timer) clearInterval(this.timer)
      this.timer = null
    },
    async send() {
      const d = this.data
      const body = d.text.trim()
      if (!body || !d.conversation || d.busy) return
      this.setData({ busy: true, error: '' })
      try {
        await api.call('sendChat', { path: { conversation_id: d.conversation.id },
                                     body: { client_msg_id: clientMsgId(), body } })
        this.setData({ busy: false, text: '' })
        await this.poll()
      } catch (err) {
        fail(this, err)
      }
    },
    close() {
      this.stopPolling()
      this.setData({ conversation: null, messages: [], lastSeq: 0 })
      return this.loadConversations()
    },
  },
})
