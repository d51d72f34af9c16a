<%@ Page Language="C#" %>
<script runat="server">
void Page_Load(object sender, EventArgs e) {
    Greeting.Text = Server.HtmlEncode(Request["q"] ?? "world");
}
</script>
<html><body><asp:Label id="Greeting" runat="server" /></body></html>
