/*
 * ssprweb - an enhancement only: every page works without it. On a page
 * with password rules it says, while the person types, whether the new
 * password is long enough and whether the confirmation matches. The texts
 * come translated in the page's data- attributes.
 */
"use strict";
document.addEventListener("DOMContentLoaded", function () {
	var rules = document.getElementById("rules");
	var pw = document.getElementById("f-new_password");
	var again = document.getElementById("f-new_password_confirm");
	var live = document.getElementById("live");
	if (!rules || !pw || !again || !live)
		return;
	var min = parseInt(rules.dataset.min, 10) || 0;
	var max = parseInt(rules.dataset.max, 10) || 0;
	function check() {
		var n = Array.from(pw.value).length;	/* code points, as ssprd counts */
		var msg;
		if (n === 0)
			msg = "";
		else if (n < min)
			msg = rules.dataset.msgShort;
		else if (max && n > max)
			msg = rules.dataset.msgLong;
		else if (again.value !== pw.value)
			msg = rules.dataset.msgDiffer;
		else
			msg = rules.dataset.msgFine;
		live.textContent = msg;
		pw.setCustomValidity(n > 0 && n < min ? rules.dataset.msgShort : "");
	}
	pw.addEventListener("input", check);
	again.addEventListener("input", check);
});
