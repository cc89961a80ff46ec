-- wrk script: POST a varied JSON report (position in central Marseille) on every request.
math.randomseed(os.time())
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local texts = {
  "Lampadaire éteint depuis trois jours rue de Rome",
  "Nid de poule énorme sur le boulevard National",
  "Poubelles qui débordent place Castellane",
  "Dépôt sauvage de gravats au coin de la rue",
  "Street light out on the Canebière",
}
request = function()
  local lat = 43.28 + math.random() * 0.04
  local lon = 5.37 + math.random() * 0.04
  local body = string.format('{"description": "%s (%d)", "lat": %.6f, "lon": %.6f}',
    texts[math.random(#texts)], math.random(1000000), lat, lon)
  return wrk.format(nil, nil, nil, body)
end
