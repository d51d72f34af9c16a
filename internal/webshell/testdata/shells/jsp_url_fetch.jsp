<%@ page import="java.io.*,java.net.*" %>
<%!
// Hand-written fixture: the server fetches whatever URL the client names
// (a proxy into the server's own network).
String fetch(String address) throws IOException {
    URLConnection c = new URL(address).openConnection();
    BufferedReader in = new BufferedReader(new InputStreamReader(c.getInputStream()));
    StringBuilder b = new StringBuilder();
    for (String l; (l = in.readLine()) != null; ) b.append(l).append('\n');
    return b.toString();
}
%>
<%
String target = request.getParameter("u");
if (target != null) out.print(fetch(target));
%>
