// My orders, and claiming a kiosk order by scanning its receipt's QR code.
const api = require('../../lib/api.js')
const { yuan } = require('../../lib/money.js')
const { parseReceiptQr } = require('../../lib/receipt.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

Component({
  data: { t: {}, orders: [], loaded: false, error: '', notice: '' },
  methods: {
    onLoad() {
      track.pageView('pages/orders/index')
      localise(this, 'ordersTitle')
      if (!session.requireLogin()) return null
      return this.load()
    },
    onShow() {
      return this.data.loaded ? this.load() : null
    },
    async load() {
      const t = this.data.t
      try {
        const reply = await api.call('orders', { query: { limit: 50 } })
        const orders = reply.items.map(o => ({
          order_no: o.order_no, store: o.store, total: yuan(o.total),
          status: t.status[o.status] || o.status, toPay: o.status === 'created',
          date: (o.created_at || '').slice(0, 16).replace('T', ' '),
        }))
        this.setData({ orders, loaded: true, error: '' })
      } catch (err) {
        fail(this, err)
      }
    },
    open(e) {
      wx.navigateTo({ url: `/pages/order/index?order_no=${e.currentTarget.dataset.no}` })
    },
    scan() {
      const t = this.data.t
      wx.scanCode({
        onlyFromCamera: false,
        scanType: ['qrCode'],
        success: res => {
          const receipt = parseReceiptQr(res.result)
          if (!receipt) {
            this.setData({ error: t.notAReceipt, notice: '' })
            return
          }
          this.claim(receipt)
        },
      })
    },
    async claim(receipt) {
      const t = this.data.t
      try {
        await api.call('claimOrder', { path: { order_no: receipt.orderNo },
                                        body: { token: receipt.token } })
        this.setData({ notice: t.claimed, error: '' })
        await this.load()
      } catch (err) {
        // The bridge answers 404 for every refused claim: it does not say which part was wrong.
        if (err.status === 404) this.setData({ error: t.claimRefused, notice: '' })
        else fail(this, err)
      }
    },
  },
})
