// Product search in the picked store, adding to the cart.
const api = require('../../lib/api.js')
const cart = require('../../lib/cart.js')
const i18n = require('../../lib/i18n.js')
const { yuan } = require('../../lib/money.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

function view(p) {
  return { ...p, name: i18n.pick(p.name_zh, p.name_en), price: yuan(p.unit_price),
           memberPrice: p.member_price === null ? '' : yuan(p.member_price) }
}

function count(c) {
  return c.lines.reduce((n, l) => n + l.qty, 0)
}

Component({
  data: { t: {}, store: '', q: '', products: [], loaded: false, inCart: 0, error: '' },
  methods: {
    onLoad() {
      track.pageView('pages/shop/index')
      localise(this, 'shopTitle')
      if (!session.requireLogin()) return null
      const store = session.store()
      if (!store) {
        wx.reLaunch({ url: '/pages/home/index' })
        return null
      }
      const c = cart.load()
      this.setData({ store, inCart: c.store === store ? count(c) : 0 })
      return this.search()
    },
    onInput(e) {
      this.setData({ q: e.detail.value })
    },
    async search() {
      const q = this.data.q.trim()
      try {
        const reply = await api.call('products', {
          path: { store: this.data.store }, query: { q: q || undefined, limit: 50 } })
        this.setData({ products: reply.items.map(view), loaded: true, error: '' })
        if (q) track.search(q, reply.items.length)
      } catch (err) {
        fail(this, err)
      }
    },
    add(e) {
      const product = this.data.products.find(p => p.product_id === e.currentTarget.dataset.id)
      if (!product) return
      const c = cart.add(this.data.store, product)
      this.setData({ inCart: count(c) })
      wx.showToast({ title: product.name, icon: 'none' })
    },
    toCart() {
      wx.navigateTo({ url: '/pages/cart/index' })
    },
    onShareAppMessage() {
      return { title: this.data.t.shopTitle,
               path: track.share('pages/shop/index', '/pages/home/index') }
    },
  },
})
