// Returns and exchanges (SVC after-sales): ask for lines of one of my orders with a reason,
// a description and photos of the goods; see my requests, the store's decision and the
// refund; withdraw one the store has not decided yet.
const api = require('../../lib/api.js')
const i18n = require('../../lib/i18n.js')
const { yuan } = require('../../lib/money.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

const REASONS = ['quality', 'damaged', 'expired', 'wrong_item', 'not_as_described',
                 'changed_mind', 'other']
const MAX_PHOTOS = 6        // the bridge's aftersales.MAX_PHOTOS

/** The bytes of a file the shopper picked (wx.chooseMedia gives a temporary path). */
function readFile(filePath) {
  return new Promise((resolve, reject) => {
    wx.getFileSystemManager().readFile({
      filePath,
      success: res => resolve(res.data),
      fail: err => reject(new Error((err && err.errMsg) || 'readFile failed')),
    })
  })
}

function choosePhoto() {
  return new Promise((resolve, reject) => {
    wx.chooseMedia({
      count: 1, mediaType: ['image'], sourceType: ['album', 'camera'], sizeType: ['compressed'],
      success: res => resolve(res.tempFiles[0].tempFilePath),
      fail: err => reject(new Error((err && err.errMsg) || 'chooseMedia failed')),
    })
  })
}

Component({
  data: { t: {}, orderNo: '', lines: [], kind: 'return', reasons: [], reasonIndex: 0,
          description: '', photoIds: [], requests: [], loaded: false, busy: false,
          error: '', notice: '' },
  methods: {
    onLoad(options) {
      track.pageView('pages/aftersales/index')
      const t = localise(this, 'afterSalesTitle')
      if (!session.requireLogin()) return null
      this.setData({ reasons: REASONS.map(r => t.reasons[r]),
                     orderNo: (options && options.order_no) || '' })
      return Promise.all([this.data.orderNo ? this.loadOrder() : null, this.loadMine()])
    },
    // The lines of the order that still have units to give back.
    async loadOrder() {
      try {
        const o = await api.call('order', { path: { order_no: this.data.orderNo } })
        this.setData({ lines: o.lines
          .filter(l => l.qty - (l.returned_qty || 0) > 0)
          .map(l => ({ line_no: l.line_no, name: i18n.pick(l.name_zh, l.name_en),
                       left: l.qty - (l.returned_qty || 0), qty: l.qty - (l.returned_qty || 0),
                       picked: false })) })
      } catch (err) {
        fail(this, err)
      }
    },
    async loadMine() {
      const t = this.data.t
      try {
        const reply = await api.call('myAfterSales')
        this.setData({ loaded: true, requests: reply.items.map(r => ({
          id: r.id, order_no: r.order_no,
          kind: r.kind === 'return' ? t.returnGoods : t.exchangeGoods,
          reason: t.reasons[r.reason] || r.reason,
          status: t.afterSalesStatus[r.status] || r.status, amount: yuan(r.amount),
          note: r.decision_note || '',
          refund: r.refund ? `${t.refundLabel} ${yuan(r.refund.amount)}` : '',
          canWithdraw: r.status === 'requested',
        })) })
      } catch (err) {
        fail(this, err)
      }
    },
    toggle(e) {
      const no = Number(e.currentTarget.dataset.no)
      this.setData({ lines: this.data.lines.map(l => (l.line_no === no ? { ...l, picked: !l.picked } : l)) })
    },
    step(e) {
      const no = Number(e.currentTarget.dataset.no)
      const by = Number(e.currentTarget.dataset.by)
      this.setData({ lines: this.data.lines.map(l => (l.line_no === no
        ? { ...l, qty: Math.max(1, Math.min(l.left, l.qty + by)) } : l)) })
    },
    pickKind(e) {
      this.setData({ kind: e.detail.value })
    },
    pickReason(e) {
      this.setData({ reasonIndex: Number(e.detail.value) })
    },
    onDescription(e) {
      this.setData({ description: e.detail.value })
    },
    // One photo at a time: uploaded at once (the bridge checks it is an image), its id
    // kept for the request.
    async addPhoto() {
      if (this.data.busy || this.data.photoIds.length >= MAX_PHOTOS) return
      this.setData({ busy: true, error: '' })
      try {
        const bytes = await readFile(await choosePhoto())
        const saved = await api.call('afterSalesPhoto', { query: { order_no: this.data.orderNo },
                                                          raw: bytes })
        this.setData({ busy: false, photoIds: [...this.data.photoIds, saved.id] })
      } catch (err) {
        if (err.status === undefined) this.setData({ busy: false })   // the shopper gave up
        else fail(this, err)
      }
    },
    async submit() {
      const d = this.data
      if (d.busy) return
      const lines = d.lines.filter(l => l.picked).map(l => ({ line_no: l.line_no, qty: l.qty }))
      if (!lines.length) {
        this.setData({ error: d.t.pickLines })
        return
      }
      const body = { order_no: d.orderNo, kind: d.kind, reason: REASONS[d.reasonIndex], lines,
                     photo_ids: d.photoIds }
      if (d.description.trim()) body.description = d.description.trim()
      this.setData({ busy: true, error: '', notice: '' })
      try {
        await api.call('askAfterSales', { body })
        this.setData({ busy: false, notice: d.t.requestSent, photoIds: [], description: '' })
        await Promise.all([this.loadOrder(), this.loadMine()])
      } catch (err) {
        fail(this, err)
      }
    },
    async withdraw(e) {
      try {
        await api.call('cancelAfterSales', { path: { aftersales_id: e.currentTarget.dataset.id } })
        await this.loadMine()
      } catch (err) {
        fail(this, err)
      }
    },
  },
})
