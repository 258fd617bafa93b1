// Home: the store picker and the entries of the features this bridge serves.
const api = require('../../lib/api.js')
const features = require('../../lib/features.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

Component({
  data: { t: {}, stores: [], storeIndex: -1, entries: [], loaded: false, error: '' },
  methods: {
    onLoad() {
      track.pageView('pages/home/index')
      const t = localise(this, 'homeTitle')
      if (!session.requireLogin()) return null
      return this.load(t)
    },
    async load(t) {
      try {
        const [stores, document] = await Promise.all([api.call('stores'), api.call('document')])
        const items = stores.items
        let index = items.findIndex(s => s.store === session.store())
        if (index < 0 && items.length) {
          index = 0
          session.setStore(items[0].store)
        }
        const entries = features.available(document).map(e => ({ ...e, label: t[e.key] }))
        this.setData({ stores: items.map(s => s.store), storeIndex: index, entries,
                       loaded: true, error: '' })
      } catch (err) {
        fail(this, err)
      }
    },
    pickStore(e) {
      const index = Number(e.detail.value)
      session.setStore(this.data.stores[index])
      this.setData({ storeIndex: index })
    },
    go(e) {
      wx.navigateTo({ url: e.currentTarget.dataset.url })
    },
    onShareAppMessage() {
      return { title: this.data.t.homeTitle,
               path: track.share('pages/home/index', '/pages/home/index') }
    },
  },
})
