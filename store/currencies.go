package store

import "strings"

// currencies are the codes a price may be in: ISO 4217's List One of
// current currencies (ISO 4217:2015 with its amendments through 2025, as
// published by SIX Financial Information on ISO's behalf), transcribed on
// 2026-12-04. Left out on purpose, though the list has them: XXX (no
// currency) and XTS (testing), the precious metals (XAU, XAG, XPD, XPT),
// the bond-market units (XBA to XBD), the SDR and the other
// supranational units of account (XDR, XSU, XUA) and the fund codes (BOV,
// CHE, CHW, CLF, COU, MXV, USN, UYI, UYW): none is what a shop prices in.
// Codes withdrawn by then (BGN, HRK, ANG, CUC, SLL, ZWL, MRO, VEF…) are
// not here. golang.org/x/text/currency, used before, knows neither MRU nor
// VES, SLE, VED, XCG or ZWG: its data predates them.
var currencies = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`
		AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BRL BSD BTN
		BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
		EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR
		ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
		MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR
		PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE
		SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU
		UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG`) {
		m[c] = true
	}
	return m
}()
